"""Readers of the file formats a corpus may hold, behind one interface: bytes in, :class:`Extracted` text out.

Readers never touch the disk (:mod:`qa.ingest.files` reads a file with the corpus checks,
then extracts it here). What a reader extracts is kept (:mod:`.cache`) per file name and
hash of its bytes, so a file read again unchanged is not parsed again, and a changed file
never gets the text of its old version.
"""

from __future__ import annotations

import hashlib

from ...config import MAX_FILE_MB
from .base import Extracted, Reader, Run, UnreadableError
from .cache import ExtractionCache
from .html import HtmlReader
from .markdown import MarkdownReader
from .pdf import PdfReader
from .text import TextReader
from .word import WordReader

__all__ = [
    "READERS",
    "SUFFIXES",
    "Extracted",
    "Reader",
    "Run",
    "UnreadableError",
    "extract",
    "reader_for",
]

#: Every reader, one per kind of file.
READERS: tuple[Reader, ...] = (TextReader(), MarkdownReader(), HtmlReader(), PdfReader(), WordReader())

#: File name endings read from a corpus folder (matched without regard to case).
SUFFIXES: tuple[str, ...] = tuple(suffix for reader in READERS for suffix in reader.suffixes)

#: What the readers extracted lately (one cache for the whole process).
EXTRACTIONS = ExtractionCache()


def reader_for(source: str) -> Reader | None:
    """The reader of a file name, by its ending (``None``: not an article)."""
    name = source.rsplit("/", 1)[-1].lower()
    return next((r for r in READERS if name.endswith(r.suffixes)), None)


def extract(source: str, raw: bytes, *, sha256: str | None = None, limit_mb: float = MAX_FILE_MB) -> Extracted:
    """What the reader of ``source`` makes of ``raw``, parsed once per file name, hash and size limit.

    The name is part of the key: a title can come from it; so is the limit, which decides
    how large a Word document may unpack.

    Raises:
        UnreadableError: No reader reads such files, or this file cannot be read; the message says why.

    """
    reader = reader_for(source)
    if reader is None:
        raise UnreadableError("not a kind of file that is read")
    key = (source, sha256 or hashlib.sha256(raw).hexdigest(), limit_mb)
    if (kept := EXTRACTIONS.get(key)) is not None:
        return kept
    extracted = reader.read(raw, source, limit_mb=limit_mb)
    EXTRACTIONS.put(key, extracted)
    return extracted
