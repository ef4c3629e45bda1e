"""HTML (``.html``, ``.htm``): the article's main text, found by trafilatura, without navigation and boilerplate."""

from __future__ import annotations

from typing import Any

from ...config import MAX_FILE_MB
from ...text.passages import Block
from .base import Extracted, UnreadableError, join_blocks

#: Elements of trafilatura's output read as one paragraph each (lists and tables: one line per item or row).
_PARAGRAPHS = frozenset({"p", "quote", "code", "list", "table"})


def _words(element: Any) -> str:
    """An element's text with its whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())


def _paragraph(element: Any) -> str:
    """The text of one paragraph element: a list's items and a table's rows each on a line of their own."""
    if element.tag == "list":
        lines = [_words(item) for item in element.iter("item")]
    elif element.tag == "table":
        lines = [" | ".join(_words(cell) for cell in row.iter("cell")) for row in element.iter("row")]
    else:
        lines = [_words(element)]
    return "\n".join(line for line in lines if line)


class HtmlReader:
    """Saved web pages: trafilatura's main text, title and date; headings give each paragraph's section."""

    kind: str = "html"
    suffixes: tuple[str, ...] = (".html", ".htm")

    def read(self, raw: bytes, source: str, *, limit_mb: float = MAX_FILE_MB) -> Extracted:
        """The article in the page, one paragraph per line, headings as lines of their own.

        Raises:
            UnreadableError: trafilatura finds no article text in the page.

        """
        import trafilatura

        try:
            found = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False, include_tables=True)
        except MemoryError:
            # Over the reader's memory limit: the sandbox says so.
            raise
        except Exception as exc:
            # trafilatura and lxml raise many kinds of errors on broken input; all mean "cannot read".
            raise UnreadableError(f"not a readable web page ({type(exc).__name__})") from None
        body = getattr(found, "body", None)
        if found is None or body is None:
            raise UnreadableError("no article text found in the web page")
        title = " ".join(str(getattr(found, "title", "") or "").split())
        date = str(getattr(found, "date", "") or "")
        pieces: list[tuple[str, bool, Block]] = []
        section: str | None = None
        for element in body:
            if element.tag == "head":
                heading = _words(element)
                if heading:
                    # The title's own heading opens no section.
                    section = None if heading == title else heading
                    pieces.append((heading, False, Block(0, 0)))
            elif element.tag in _PARAGRAPHS and (text := _paragraph(element)):
                pieces.append((text, True, Block(0, 0, section=section)))
        text, blocks = join_blocks(pieces)
        if not blocks:
            raise UnreadableError("no article text found in the web page")
        return Extracted(self.kind, text, title, blocks, date=date)
