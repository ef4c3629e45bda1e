"""Readers of the file formats a corpus may hold, behind one interface: bytes in, :class:`Extracted` text out.

Readers never touch the disk (:mod:`qa.ingest.files` reads a file with the corpus checks,
then extracts it here). What a reader extracts is kept per file name and hash of its
bytes, so a file read again unchanged is not parsed again, and a changed file never gets
the text of its old version.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from ...config import MAX_FILE_MB
from .base import Extracted, Reader, Run, UnreadableError
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

#: Extractions kept in memory, by file name and hash (the most recently used) ...
_CACHE_SIZE = 64
#: ... as long as all of them together weigh no more than this many characters (see :func:`_weight`).
CACHE_CHARACTERS = 32_000_000
#: What one paragraph or run weighs in the cache, in characters (about what it takes in memory).
_ITEM_WEIGHT = 150
_cache: OrderedDict[tuple[str, str, float], tuple[Extracted, int]] = OrderedDict()
_cache_weight = 0
_cache_lock = threading.Lock()


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
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key][0]
    extracted = reader.read(raw, source, limit_mb=limit_mb)
    _remember(key, extracted)
    return extracted


def _weight(extracted: Extracted) -> int:
    """What an extraction weighs in the cache: its characters, and its paragraphs and runs."""
    return len(extracted.text) + len(extracted.title) + _ITEM_WEIGHT * (len(extracted.blocks) + len(extracted.runs))


def _remember(key: tuple[str, str, float], extracted: Extracted) -> None:
    """Keep an extraction; the least recently used go while over :data:`CACHE_CHARACTERS` or :data:`_CACHE_SIZE`."""
    global _cache_weight
    weight = _weight(extracted)
    with _cache_lock:
        if key in _cache:
            _cache_weight -= _cache.pop(key)[1]
        # One that alone weighs more than the whole cache is not kept.
        if weight > CACHE_CHARACTERS:
            return
        _cache[key] = (extracted, weight)
        _cache_weight += weight
        while len(_cache) > _CACHE_SIZE or _cache_weight > CACHE_CHARACTERS:
            _cache_weight -= _cache.popitem(last=False)[1][1]
