"""Which reader reads which file: one reader per kind of file, chosen by the file name's ending."""

from __future__ import annotations

from .base import Reader
from .html import HtmlReader
from .markdown import MarkdownReader
from .pdf import PdfReader
from .text import TextReader
from .word import WordReader

#: Every reader, one per kind of file.
READERS: tuple[Reader, ...] = (TextReader(), MarkdownReader(), HtmlReader(), PdfReader(), WordReader())

#: File name endings read from a corpus folder (matched without regard to case).
SUFFIXES: tuple[str, ...] = tuple(suffix for reader in READERS for suffix in reader.suffixes)


def reader_for(source: str) -> Reader | None:
    """The reader of a file name, by its ending (``None``: not an article)."""
    name = source.rsplit("/", 1)[-1].lower()
    return next((r for r in READERS if name.endswith(r.suffixes)), None)
