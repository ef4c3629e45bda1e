"""PDF: text per page with pypdfium2, paragraphs rebuilt from the layout of its lines.

Lines are joined into paragraphs by their spacing, indents and font sizes; a word
hyphenated at a line end is joined again; page numbers in headers and footers are left
out; a paragraph that runs from one page onto the next is one paragraph citing both.
Every character of the text is a character of a page (:class:`Run`), so that the source
pane can mark a quote on the page image.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ...config import MAX_FILE_MB
from ...text.passages import Block
from ...text.words import HYPHENATED
from .base import Extracted, Run, UnreadableError
from .bounds import MAX_PAGES

#: PDFium may be used by one thread at a time in a process: every call into it holds this.
PDFIUM_LOCK = threading.RLock()

#: A line this much larger than the body text is a heading.
HEADING_RATIO = 1.15
#: A gap between lines this much larger than the usual line spacing starts a paragraph.
GAP_RATIO = 1.35
#: Characters that end a sentence, so that a paragraph ending in one does not run on to the next page.
_CLOSING = tuple(".!?:;\"'”’)]…")
#: Page furniture: a line that is only a page number ("4", "Page 4", "4 of 12", "- 4 -"), in a page's margin band.
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
#: The top and bottom bands of a page, as a fraction of its height, where headers and footers are.
MARGIN_BAND = 0.12


@dataclass
class _Line:
    """One line of a page: its characters ``start`` to ``end`` (page indices), text and geometry."""

    page: int
    start: int
    text: str
    baseline: float
    left: float
    right: float
    size: float

    @property
    def end(self) -> int:
        """Page index just past the line's last character."""
        return self.start + len(self.text)


@dataclass
class _Paragraph:
    """Lines that make one paragraph (or one heading)."""

    lines: list[_Line] = field(default_factory=list)
    heading: bool = False
    #: Its last line reaches the right margin: at a page's foot, the paragraph may go on over the page.
    full: bool = False


def _char(code: int) -> str:
    """A character PDFium reported, as text that can be stored (one character, always)."""
    if code in (0xFFFE, 0xFFFF) or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\ufffd"
    if code < 0x20 and code not in (0x0A, 0x0D, 0x02):
        return " "
    return chr(code)


def _page_lines(textpage: Any, number: int, raw_api: Any) -> list[_Line]:
    """The non-empty lines of one page, in PDFium's reading order."""
    count = textpage.count_chars()
    handle = textpage.raw
    text = "".join(_char(raw_api.FPDFText_GetUnicode(handle, i)) for i in range(count))
    lines: list[_Line] = []
    # PDFium ends a line at a line break, or (joining a hyphenated word itself) just after the hyphen it marks.
    for match in re.finditer(r"[^\r\n\x02]*\x02|[^\r\n\x02]+", text):
        start, end = match.start(), match.end()
        # Leading and trailing spaces are left out; what stays is one run of page characters.
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            continue
        x, y = ctypes.c_double(), ctypes.c_double()
        raw_api.FPDFText_GetCharOrigin(handle, start, ctypes.byref(x), ctypes.byref(y))
        left = textpage.get_charbox(start)[0]
        # Character boxes are (left, bottom, right, top).
        right = textpage.get_charbox(end - 1)[2]
        sizes = [raw_api.FPDFText_GetFontSize(handle, i) for i in range(start, end) if not text[i].isspace()]
        size = max(set(sizes), key=sizes.count) if sizes else 0.0
        lines.append(_Line(number, start, text[start:end], y.value, left, right, float(size)))
    return lines


def _without_furniture(lines: list[_Line], height: float) -> list[_Line]:
    """A page's lines less its page numbers.

    A page number is a line that is only a number, in the top or bottom :data:`MARGIN_BAND`
    of the page, with no line nearer that edge ("4096" in the text stays).
    """
    if not lines:
        return lines
    highest, lowest = max(line.baseline for line in lines), min(line.baseline for line in lines)
    band = MARGIN_BAND * height

    def furniture(line: _Line) -> bool:
        if not _PAGE_NUMBER.match(line.text.strip()):
            return False
        slack = max(line.size, 1.0)
        header = line.baseline >= height - band and line.baseline >= highest - slack
        footer = line.baseline <= band and line.baseline <= lowest + slack
        return header or footer

    return [line for line in lines if not furniture(line)]


def _group(pages: list[list[_Line]]) -> list[list[_Paragraph]]:
    """Each page's lines grouped into headings and paragraphs."""
    every = [line for page in pages for line in page]
    weights: Counter[float] = Counter()
    for line in every:
        weights[round(line.size, 1)] += len(line.text)
    body = weights.most_common(1)[0][0] if weights else 0.0
    steps = [
        a.baseline - b.baseline
        for page in pages
        for a, b in itertools.pairwise(page)
        if abs(a.size - body) < 0.5 and abs(b.size - body) < 0.5 and 0 < a.baseline - b.baseline < 2.5 * body
    ]
    leading = statistics.median(steps) if steps else 1.2 * body
    # Where paragraphs are set apart by space, a short line ending a sentence says nothing more.
    spaced = any(
        GAP_RATIO * leading < a.baseline - b.baseline < 4 * leading
        for page in pages
        for a, b in itertools.pairwise(page)
        if abs(a.size - body) < 0.5 and abs(b.size - body) < 0.5
    )
    right = max((line.right for line in every if abs(line.size - body) < 0.5), default=0.0)
    grouped: list[list[_Paragraph]] = []
    for page in pages:
        paragraphs: list[_Paragraph] = []
        previous: _Line | None = None
        for line in page:
            heading = body > 0 and line.size >= HEADING_RATIO * body
            current = paragraphs[-1] if paragraphs else None
            starts = current is None or previous is None or heading != current.heading
            if not starts and previous is not None:
                step = previous.baseline - line.baseline
                # Lines of a larger size (a heading over two lines) are spaced in proportion.
                spacing = leading * max(line.size, previous.size, body) / body if body > 0 else leading
                # A wider gap, a jump up the page (another column), a first-line indent or a
                # short line ending a sentence all end the paragraph before.
                starts = (
                    step > GAP_RATIO * spacing
                    or step <= 0
                    or abs(line.size - previous.size) >= 0.5
                    or (not heading and line.left > previous.left + body)
                    or (
                        not heading
                        and not spaced
                        and previous.text.endswith(_CLOSING)
                        and previous.right < right - 0.3 * (right - previous.left)
                    )
                )
            if starts:
                paragraphs.append(_Paragraph([line], heading))
            else:
                paragraphs[-1].lines.append(line)
            previous = line
        for paragraph in paragraphs:
            last = paragraph.lines[-1]
            paragraph.full = last.right >= right - 0.05 * (right - last.left)
        grouped.append(paragraphs)
    return grouped


def _vocabulary(paragraphs: list[_Paragraph]) -> frozenset[str]:
    """Every word of a document, in lower case, hyphenated words whole: what a line-end hyphen is checked against."""
    return frozenset(w.lower() for p in paragraphs for line in p.lines for w in HYPHENATED.findall(line.text))


def _joined(lines: list[_Line], words: frozenset[str]) -> tuple[str, list[tuple[int, int, _Line, int]]]:
    """The lines as one paragraph of text, with the run of each: ``(start, end, line, offset in line)``.

    A hyphen at a line end before a lower-case letter is dropped ("re-" "assembled"), unless
    the document writes the word with the hyphen elsewhere and never without it
    ("black-and-" "white"); before a capital it is kept ("Al-" "Qaeda").
    """
    text = ""
    runs: list[tuple[int, int, _Line, int]] = []
    for number, line in enumerate(lines):
        # PDFium marks a hyphen it saw at a line end as \x02: it is a hyphen in the text.
        piece = line.text.replace("\x02", "-")
        nxt = lines[number + 1].text if number + 1 < len(lines) else ""
        joined = False
        if nxt and piece.endswith("\xad"):
            piece, joined = piece[:-1], True
        elif nxt and piece.endswith("-") and len(piece) > 1 and piece[-2].isalpha():
            # "re-" at a line end and "assembled" on the next: one word, hyphen dropped; "Al-" and
            # "Qaeda": one word, hyphen kept.
            joined = True
            heads = HYPHENATED.findall(piece[:-1])
            tail = HYPHENATED.match(nxt)
            head, rest = (heads[-1].lower() if heads else ""), (tail.group().lower() if tail else "")
            compound = f"{head}-{rest}" in words and f"{head}{rest}" not in words
            if nxt[:1].islower() and not compound:
                piece = piece[:-1]
        runs.append((len(text), len(text) + len(piece), line, 0))
        text += piece
        if nxt and not joined:
            text += " "
    return text, runs


class PdfReader:
    """``*.pdf``: text per page, paragraphs from the layout; citations name the page."""

    kind: str = "pdf"
    suffixes: tuple[str, ...] = (".pdf",)

    def read(self, raw: bytes, source: str, *, limit_mb: float = MAX_FILE_MB) -> Extracted:
        """The document's paragraphs, page by page.

        Raises:
            UnreadableError: Encrypted, damaged, or with no text layer (a scan: OCR is not supported).

        """
        import pypdfium2
        import pypdfium2.raw as raw_api

        # PDFium is held for one page at a time, so that a page drawn for the source pane
        # meanwhile waits for one page, not for the whole of a long document.
        with PDFIUM_LOCK:
            try:
                document = pypdfium2.PdfDocument(raw)
            except pypdfium2.PdfiumError as exc:
                if getattr(exc, "err_code", None) == raw_api.FPDF_ERR_PASSWORD:
                    raise UnreadableError("encrypted PDF: it needs a password") from None
                raise UnreadableError(f"not a readable PDF ({exc})") from None
        pages: list[list[_Line]] = []
        try:
            with PDFIUM_LOCK:
                title = " ".join(str(document.get_metadata_value("Title") or "").split())
                count = len(document)
            if count > MAX_PAGES:
                raise UnreadableError(f"it has {count:,} pages, more than the {MAX_PAGES:,} read")
            for number in range(count):
                with PDFIUM_LOCK:
                    page = document[number]
                    try:
                        textpage = page.get_textpage()
                        try:
                            lines = _page_lines(textpage, number + 1, raw_api)
                        finally:
                            textpage.close()
                        height = page.get_height()
                    finally:
                        page.close()
                pages.append(_without_furniture(lines, height))
        except pypdfium2.PdfiumError as exc:
            raise UnreadableError(f"not a readable PDF ({exc})") from None
        except (UnreadableError, MemoryError):
            # A reason of its own, or over the reader's memory limit (the sandbox says so).
            raise
        except Exception as exc:
            # Whatever else a damaged file makes go wrong, it is a file that cannot be read.
            raise UnreadableError(f"not a readable PDF ({type(exc).__name__})") from None
        finally:
            with PDFIUM_LOCK:
                document.close()
        if not any(pages):
            raise UnreadableError("no text layer (OCR not supported)")
        return self._layout(_group(pages), title)

    def _layout(self, grouped: list[list[_Paragraph]], title: str) -> Extracted:
        """Text, blocks and runs from the grouped pages; paragraphs that run on across a page join."""
        flat: list[_Paragraph] = []
        for page in grouped:
            for number, paragraph in enumerate(page):
                last = flat[-1] if flat else None
                runs_on = (
                    number == 0
                    and last is not None
                    and not last.heading
                    and not paragraph.heading
                    and (last.full or not last.lines[-1].text.endswith(_CLOSING))
                )
                if runs_on and last is not None:
                    last.lines.extend(paragraph.lines)
                else:
                    flat.append(paragraph)
        words = _vocabulary(flat)
        headings = [p for p in flat if p.heading]
        if not title and headings and headings[0].lines[0].page == 1:
            # The first heading's text as the text has it (hyphens joined, no PDFium marks).
            title = " ".join(_joined(headings[0].lines, words)[0].split())
        parts: list[str] = []
        blocks: list[Block] = []
        runs: list[Run] = []
        position = 0
        section: str | None = None
        # Paragraphs ending on each page so far: a paragraph's number on its first page counts
        # those before it there (pages only grow through the document, so no rescanning).
        ending: Counter[int] = Counter()
        for paragraph in flat:
            text, pieces = _joined(paragraph.lines, words)
            if parts:
                parts.append("\n\n")
                position += 2
            parts.append(text)
            runs += [Run(position + s, position + e, line.page, line.start + skip) for s, e, line, skip in pieces]
            if paragraph.heading:
                section = None if " ".join(text.split()) == title else text
            else:
                first, last_page = paragraph.lines[0].page, paragraph.lines[-1].page
                # Its number on its first page counts a paragraph carried over from the page before.
                shown = 1 + ending[first]
                ending[last_page] += 1
                blocks.append(Block(position, position + len(text), first, last_page, shown, section))
            position += len(text)
        return Extracted(self.kind, "".join(parts), title, tuple(blocks), runs=tuple(runs))
