"""Readers of the file formats a corpus may hold, behind one interface: bytes in, :class:`Extracted` text out.

Readers never touch the disk (:mod:`qa.ingest.files` reads a file with the corpus checks,
then extracts it here), and never run in the process that asks: each file is read in a
worker process with time and memory limits (:mod:`.sandbox`). What a reader extracts is
kept (:mod:`.cache`) per file name and hash of its bytes, so a file read again unchanged is
not parsed again, and a changed file never gets the text of its old version.
"""

from __future__ import annotations

import hashlib

from ...config import MAX_FILE_MB, SandboxLimits
from .base import Extracted, Reader, Run, UnreadableError
from .cache import ExtractionCache
from .registry import READERS, SUFFIXES, reader_for
from .sandbox import POOL, ReaderPool, limits_from_environment, over_a_raised_limit

__all__ = [
    "POOL",
    "READERS",
    "SUFFIXES",
    "Extracted",
    "Reader",
    "ReaderPool",
    "Run",
    "SandboxLimits",
    "UnreadableError",
    "extract",
    "limits_from_environment",
    "over_a_raised_limit",
    "reader_for",
]

#: What the readers extracted lately (one cache for the whole process).
EXTRACTIONS = ExtractionCache()


def extract(source: str, raw: bytes, *, sha256: str | None = None, limit_mb: float = MAX_FILE_MB) -> Extracted:
    """What the reader of ``source`` makes of ``raw``, parsed once per file name, hash and size limit.

    The name is part of the key: a title can come from it; so is the limit, which decides
    how large a Word document may unpack.

    The reader runs in a worker process (:data:`POOL`): a file that takes longer than
    ``$QA_READ_SECONDS`` (30 s) or more memory than ``$QA_READ_MEMORY_MB`` (1024 MB) to read,
    or crashes its reader, cannot be read. Such failures are not kept: the file is tried
    again when asked again (the index asks again only when the file changes).

    Raises:
        UnreadableError: No reader reads such files, or this file cannot be read; the message says why.

    """
    reader = reader_for(source)
    if reader is None:
        raise UnreadableError("not a kind of file that is read")
    key = (source, sha256 or hashlib.sha256(raw).hexdigest(), limit_mb)
    if (kept := EXTRACTIONS.get(key)) is not None:
        return kept
    extracted: Extracted = POOL.read(source, raw, limit_mb)
    EXTRACTIONS.put(key, extracted)
    return extracted
