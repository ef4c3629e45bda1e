"""Passages and documents: the cited paragraphs of an article, and the one rule that numbers them.

Every paragraph the package cites, whatever reader found it, becomes a :class:`Passage`
through :func:`passages_of`, so line numbers and hashes are counted one way everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from .lines import line_breaks
from .paragraphs import paragraph_spans
from .titles import lead_of, title_and_lead


def text_sha256(text: str) -> str:
    """Return the hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Block:
    """One paragraph of a document's text, with where it is in the original.

    Attributes:
        start: Offset of its first character in the document's text.
        end: Offset just past its last character.
        page: 1-based page it starts on (PDF only, else ``None``).
        end_page: Page it ends on (PDF only).
        page_paragraph: Its number among the paragraphs seen on its first page, counting one
            carried over from the page before (PDF only).
        section: The heading it sits under (``None`` when there is none, and for plain text).
        paragraph: The paragraph number it is cited as (``None``: its place among the blocks).
            A paragraph too long to quote whole is split into pieces that share its number.

    """

    start: int
    end: int
    page: int | None = None
    end_page: int | None = None
    page_paragraph: int | None = None
    section: str | None = None
    paragraph: int | None = None


@dataclass(frozen=True)
class Passage:
    """One paragraph of one file, with everything needed to cite and re-check it.

    Attributes:
        source: Path of the file relative to the corpus folder, with forward slashes.
        paragraph: 1-based number of the paragraph within its file.
        start_line: 1-based line where the paragraph starts.
        end_line: 1-based line where the paragraph ends (inclusive).
        start_char: Offset of the first character in the file's text.
        end_char: Offset just past the last character in the file's text.
        text: Exactly ``file_text[start_char:end_char]``, where ``file_text`` is the file's own
            text for plain text and Markdown, and its reader's extracted text for HTML, PDF and
            Word files (lines are counted in that text too).
        sha256: Hex SHA-256 of ``text`` encoded as UTF-8.
        page: The PDF page the paragraph starts on (``None`` for other formats).
        end_page: The PDF page it ends on.
        page_paragraph: Its number among the paragraphs seen on its first PDF page.
        section: The heading it sits under (Markdown, HTML, PDF, Word; ``None`` for plain text).

    """

    source: str
    paragraph: int
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    text: str
    sha256: str
    page: int | None = None
    end_page: int | None = None
    page_paragraph: int | None = None
    section: str | None = None

    @property
    def key(self) -> str:
        """The ``FILE#PARAGRAPH`` key used by evaluation files."""
        return f"{self.source}#{self.paragraph}"

    @property
    def lines(self) -> str:
        """Human-readable line range, e.g. ``line 4`` or ``lines 4-7``."""
        if self.start_line == self.end_line:
            return f"line {self.start_line}"
        return f"lines {self.start_line}-{self.end_line}"

    @property
    def place(self) -> str:
        """Where the paragraph is in its file, for a citation after the file's name.

        ``¶3 (line 3)`` in plain text; ``¶5 (line 9), section “Funding”`` under a heading;
        ``p. 4 ¶2`` or ``pp. 4–5 ¶6`` in a PDF, counting paragraphs on the page.
        """
        if self.page is not None:
            last = self.end_page if self.end_page is not None else self.page
            pages = f"p. {self.page}" if last == self.page else f"pp. {self.page}–{last}"
            return f"{pages} ¶{self.page_paragraph or self.paragraph}"
        place = f"¶{self.paragraph} ({self.lines})"
        return f"{place}, section “{self.section}”" if self.section else place


@dataclass(frozen=True)
class Document:
    """One article: its source name, full text, context for embedding, and its paragraphs.

    Attributes:
        source: Path relative to the corpus folder (or an external id).
        text: The text citations count in (a file's own text, or its reader's extraction).
        title: A heading or title if the document has one, else ``""``.
        lead: The document's first sentence, used as context for its paragraphs.
        sha256: Hex SHA-256 of the raw bytes (or of the text for external documents).
        passages: Its paragraphs as its reader found them; ``None``: split as plain text
            (see :func:`split_passages`).

    """

    source: str
    text: str
    title: str
    lead: str
    sha256: str
    passages: tuple[Passage, ...] | None = field(default=None, repr=False, compare=False)


def passages_of(source: str, text: str, blocks: Sequence[Block]) -> list[Passage]:
    """The paragraphs ``blocks`` of ``text`` as :class:`Passage` objects, numbered from 1, lines counted in ``text``."""
    passages: list[Passage] = []
    # Line breaks are counted only since the previous paragraph: linear in the text's length.
    # Paragraphs start and end on non-space characters, so no CRLF is split between two counts.
    line, counted = 1, 0
    for number, block in enumerate(blocks, start=1):
        chunk = text[block.start : block.end]
        line += line_breaks(text, counted, block.start)
        counted = block.start
        passages.append(
            Passage(
                source=source,
                paragraph=block.paragraph or number,
                start_line=line,
                end_line=line + line_breaks(chunk),
                start_char=block.start,
                end_char=block.end,
                text=chunk,
                sha256=text_sha256(chunk),
                page=block.page,
                end_page=block.end_page,
                page_paragraph=block.page_paragraph,
                section=block.section,
            )
        )
    return passages


def plain_blocks(text: str) -> tuple[Block, ...]:
    """The paragraphs of a plain text (see :func:`~qa.text.paragraphs.paragraph_spans`) as blocks."""
    return tuple(Block(start, end) for start, end in paragraph_spans(text))


def split_passages(document: Document) -> list[Passage]:
    """The paragraphs of ``document`` exactly as the index cites them.

    A document read from a file carries the paragraphs its reader found (Markdown headings,
    front matter and code fences understood; PDF pages; ...); one made from plain text
    (:func:`make_document`, or built by hand) is split as plain text.
    """
    if document.passages is not None:
        return list(document.passages)
    return passages_of(document.source, document.text, plain_blocks(document.text))


def make_document(source: str, text: str, *, title: str = "", sha256: str | None = None) -> Document:
    """A :class:`Document` of plain text: its title (``title``, a heading, or its name), lead and paragraphs."""
    found, lead = title_and_lead(source, text)
    passages = tuple(passages_of(source, text, plain_blocks(text)))
    return Document(source, text, title or found, lead, sha256 or text_sha256(text), passages)


def read_document(source: str, text: str, title: str, blocks: Sequence[Block], sha256: str) -> Document:
    """A :class:`Document` as a reader found it: its title, its paragraphs, and its lead sentence."""
    passages = tuple(passages_of(source, text, blocks))
    return Document(source, text, title, lead_of(p.text for p in passages), sha256, passages)
