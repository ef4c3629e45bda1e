"""Where documents come from: a folder of files (stat first, bytes only when needed) or a list in memory."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config import MAX_FILE_MB
from ..errors import CorpusError
from ..text.passages import Document
from .files import load
from .readers import UnreadableError
from .scan import CorpusEntry, corpus_entry, read_entry, scan_corpus


@dataclass(frozen=True)
class Signature:
    """What is cheap to learn about a document without reading it: size and modification time."""

    size: int
    mtime_ns: int


#: The signature of an entry that is skipped or cannot be read now (differs from any real one).
UNREADABLE = Signature(-1, 0)


@dataclass(frozen=True)
class Loaded:
    """A document as read: the document (with its paragraphs), or why it was skipped; the SHA-256 of the bytes read."""

    source: str
    sha256: str
    document: Document | None
    skipped: str | None = None
    unreadable: bool = False


@dataclass(frozen=True)
class IndexedFile:
    """A file as an index last saw it: size and time, the hash of its bytes, why it was skipped."""

    size: int
    mtime_ns: int
    sha256: str
    skipped: str | None


def content_changed(indexed: IndexedFile | None, loaded: Loaded) -> bool:
    """Whether a file as read now differs from what the index holds of it (its bytes, or why it is skipped)."""
    return indexed is None or indexed.sha256 != loaded.sha256 or indexed.skipped != loaded.skipped


@dataclass(frozen=True)
class RawFile:
    """A corpus file's bytes as read with the checks of indexing, and their SHA-256: what a remote worker gets."""

    source: str
    sha256: str
    raw: bytes


class Source(Protocol):
    """A set of documents the writer indexes."""

    def scan(self) -> dict[str, Signature]:
        """Every document's name and signature, without reading contents."""
        ...

    def load(self, name: str) -> Loaded:
        """Read one document (once: its hash is of exactly these bytes)."""
        ...


class FolderSource:
    """The articles under a corpus folder, judged by :func:`qa.ingest.scan.corpus_entry`, read by their readers."""

    def __init__(self, root: Path, *, limit_mb: float = MAX_FILE_MB) -> None:
        """Index files under ``root`` of at most ``limit_mb`` megabytes."""
        self.root = root
        self.limit_mb = limit_mb
        self._entries: dict[str, CorpusEntry] = {}

    def scan(self) -> dict[str, Signature]:
        """Names and stat signatures of the corpus entries; skipped and unreadable ones get a zero signature.

        A zero signature differs from any real one, so an entry is judged again as soon as it
        is no longer skipped (a link fixed, a file shrunk, the size limit raised).
        """
        entries = scan_corpus(self.root, limit_mb=self.limit_mb)
        # Kept for ``load``: names that are not valid UTF-8 cannot be turned back into paths.
        self._entries = {entry.source: entry for entry in entries}
        found: dict[str, Signature] = {}
        for entry in entries:
            if entry.skipped is not None:
                found[entry.source] = Signature(-1, 0)
                continue
            try:
                stat = entry.path.stat()
                # An unreadable file has no signature: it is read again once it can be.
                readable = os.access(entry.path, os.R_OK)
                found[entry.source] = Signature(stat.st_size, stat.st_mtime_ns) if readable else Signature(-1, 0)
            except OSError:
                found[entry.source] = Signature(-1, 0)
        return found

    def load(self, name: str) -> Loaded:
        """Read, hash and extract one file; skipped, unparsable and unreadable files give a reason."""
        fetched = self.fetch(name)
        return fetched if isinstance(fetched, Loaded) else extract(fetched, limit_mb=self.limit_mb)

    def fetch(self, name: str) -> RawFile | Loaded:
        """Read and hash one file's bytes with the checks of indexing, not extracting them yet.

        Returns:
            The bytes to extract (here or on another machine), or a skipped :class:`Loaded`.

        """
        entry = (
            self._entries.get(name)
            or corpus_entry(self.root, self.root / name, limit_mb=self.limit_mb)
            or CorpusEntry(name, self.root / name)
        )
        if entry.skipped is not None:
            return Loaded(name, f"skipped: {entry.skipped}", None, entry.skipped)
        try:
            raw = read_entry(self.root, entry, limit_mb=self.limit_mb)
        except CorpusError as exc:
            return Loaded(name, f"skipped: {exc}", None, str(exc))
        except OSError as exc:
            return Loaded(name, f"unreadable: {exc.strerror or exc}", None, str(exc.strerror or exc), unreadable=True)
        return RawFile(name, hashlib.sha256(raw).hexdigest(), raw)


def extract(file: RawFile, *, limit_mb: float = MAX_FILE_MB) -> Loaded:
    """Extract a file's text and paragraphs from its bytes with its reader (here or on a Ray worker)."""
    try:
        read = load(file.source, file.raw, sha256=file.sha256, limit_mb=limit_mb)
    except UnreadableError as exc:
        return Loaded(file.source, file.sha256, None, str(exc))
    return Loaded(file.source, read.sha256, read.document)


class DocumentSource:
    """Documents already in memory (BEIR corpora); the signature is derived from the text hash."""

    def __init__(self, documents: Sequence[Document]) -> None:
        """Index ``documents``."""
        self._documents = {document.source: document for document in documents}

    def scan(self) -> dict[str, Signature]:
        """Each document's name, with its size and a number taken from its hash."""
        return {
            name: Signature(len(document.text), int(document.sha256[:15], 16))
            for name, document in self._documents.items()
        }

    def load(self, name: str) -> Loaded:
        """The document itself."""
        document = self._documents[name]
        return Loaded(name, document.sha256, document)
