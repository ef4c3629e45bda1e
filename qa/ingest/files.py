"""One corpus file read now: its bytes with the checks of the scan, then its reader's text and paragraphs.

Indexing, the quote check and the source pane all read a file this way: the same checks on
the open file, the same reader, the same text, the same paragraph numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MAX_FILE_MB
from ..text.passages import Document, Passage, passages_of, read_document
from .readers import Extracted, extract
from .scan import CorpusEntry, read_entry


@dataclass(frozen=True)
class ReadFile:
    """A corpus file as read now: the hash of its bytes, what its reader made of them, its paragraphs."""

    source: str
    sha256: str
    extracted: Extracted
    passages: tuple[Passage, ...]
    #: The bytes read (a PDF's pages are drawn from them).
    raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text citations count in (see :attr:`Extracted.text`)."""
        return self.extracted.text

    @property
    def document(self) -> Document:
        """The file as a :class:`Document`: its text, title, lead sentence and paragraphs."""
        extracted = self.extracted
        return read_document(self.source, extracted.text, extracted.title, extracted.blocks, self.sha256)


def load(source: str, raw: bytes, *, sha256: str | None = None, limit_mb: float = MAX_FILE_MB) -> ReadFile:
    """Read the bytes of file ``source`` with its reader (``sha256``: their hash, if known).

    Raises:
        UnreadableError: The file cannot be read; the message says why.

    """
    digest = sha256 or hashlib.sha256(raw).hexdigest()
    extracted = extract(source, raw, sha256=digest, limit_mb=limit_mb)
    return ReadFile(source, digest, extracted, tuple(passages_of(source, extracted.text, extracted.blocks)), raw)


def read_file(root: Path, source: str, entry: CorpusEntry | None = None, *, limit_mb: float = MAX_FILE_MB) -> ReadFile:
    """Read corpus file ``source`` under ``root`` with the checks of indexing, then with its reader.

    Raises:
        CorpusError: The file is skipped or cannot be read as its kind (:class:`UnreadableError`).
        OSError: The file cannot be read.

    """
    raw = read_entry(root, entry or CorpusEntry(source, root / source), limit_mb=limit_mb)
    return load(source, raw, limit_mb=limit_mb)
