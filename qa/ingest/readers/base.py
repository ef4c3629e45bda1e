"""What every reader gives: the text quotes are taken from, its title, and its paragraphs with locators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...config import MAX_FILE_MB
from ...errors import CorpusError
from ...text.passages import Block


class UnreadableError(CorpusError):
    """A file a reader cannot turn into text; the message is the reason shown in the build report."""


@dataclass(frozen=True)
class Run:
    """Characters of :attr:`Extracted.text` that are, one for one, characters of a PDF page.

    ``text[start:end]`` is the page's characters ``index`` to ``index + end - start`` (0-based).
    """

    start: int
    end: int
    page: int
    index: int


@dataclass(frozen=True)
class Extracted:
    """A document as its reader made it.

    Attributes:
        kind: ``text``, ``markdown``, ``html``, ``pdf`` or ``docx``.
        text: The text citations count in: the file's own text for plain text and Markdown
            (quotes are verbatim slices of the file); the extracted text for the other formats.
        title: The document's title (``""`` if it has none).
        date: Its date as the document gives it (``""`` if none).
        blocks: Its paragraphs, in order.
        runs: For a PDF, where the characters of ``text`` are on its pages.

    """

    kind: str
    text: str
    title: str
    blocks: tuple[Block, ...]
    date: str = ""
    runs: tuple[Run, ...] = ()

    @property
    def derived(self) -> bool:
        """Whether ``text`` is extracted from the file rather than the file's own text."""
        return self.kind not in ("text", "markdown")


class Reader(Protocol):
    """Turns the bytes of one kind of file into :class:`Extracted` text."""

    #: What it reads, as in :attr:`Extracted.kind`.
    kind: str
    #: File name endings it reads, lower case with the dot (``.pdf``).
    suffixes: tuple[str, ...]

    def read(self, raw: bytes, source: str, *, limit_mb: float = MAX_FILE_MB) -> Extracted:
        """Extract the document in ``raw`` (the file ``source``; ``limit_mb``: the largest file indexed).

        Raises:
            UnreadableError: The file cannot be read as this kind of document; the message says why.

        """
        ...


def join_blocks(pieces: list[tuple[str, bool, Block]]) -> tuple[str, tuple[Block, ...]]:
    """Lay out ``(text, is_paragraph, block template)`` pieces one per line, blank lines between.

    Headings are lines of the text but not paragraphs. Each paragraph's block gets the
    offsets of its text; the template's other fields are kept.
    """
    parts: list[str] = []
    blocks: list[Block] = []
    position = 0
    for text, is_paragraph, template in pieces:
        if parts:
            parts.append("\n\n")
            position += 2
        parts.append(text)
        if is_paragraph:
            blocks.append(
                Block(
                    position,
                    position + len(text),
                    template.page,
                    template.end_page,
                    template.page_paragraph,
                    template.section,
                )
            )
        position += len(text)
    return "".join(parts), tuple(blocks)
