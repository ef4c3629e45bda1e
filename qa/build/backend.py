"""Where a build reads, splits and embeds: this process by default, a Ray cluster with :mod:`qa.build.cluster`.

The writer decides what to (re)index and commits every row itself; a backend only turns
files into :class:`~qa.build.splitting.Split` rows and texts into vectors. Both backends run the
same readers and the same splitting, so the stores they produce are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..config import Settings
from ..embed.embedder import Embedder, documents
from ..ingest.sources import IndexedFile, Loaded, Source, content_changed
from .splitting import Split, split_document


@dataclass(frozen=True)
class Prepared:
    """A file as read now, and its split rows when its content changed (``None`` otherwise)."""

    name: str
    loaded: Loaded
    split: Split | None


@dataclass(frozen=True)
class Work:
    """What a build reads and embeds with: the model and the settings, the same wherever it runs."""

    embedder: Embedder
    settings: Settings


class BuildBackend(Protocol):
    """Reads and splits files, and embeds texts, for :class:`~qa.store.writer.IndexWriter`."""

    def prepare(
        self, source: Source, names: Sequence[str], previous: Mapping[str, IndexedFile], work: Work
    ) -> Iterator[Prepared]:
        """Read the files ``names`` of ``source``, in that order, splitting those whose content changed."""
        ...

    def embed(self, batches: Sequence[Sequence[str]], work: Work) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(batch number, vectors)`` for every batch of texts, in any order."""
        ...


def embed_documents(work: Work, texts: Sequence[str]) -> np.ndarray:
    """Vectors of document texts as the index's settings ask: through the int8 twin, or as questions are."""
    # Models without an int8 twin or a document path of their own embed documents as questions.
    method = "encode_int8" if work.settings.int8 else "encode_documents"
    return documents(work.embedder, method, list(texts), work.settings.batch_size)


def needs_split(loaded: Loaded, previous: IndexedFile | None) -> bool:
    """Whether a file's passages must be split and stored again: it reads, and not as what is indexed."""
    return loaded.document is not None and content_changed(previous, loaded)


class LocalBackend:
    """Reads, splits and embeds in this process, one file and one batch after another."""

    def prepare(
        self, source: Source, names: Sequence[str], previous: Mapping[str, IndexedFile], work: Work
    ) -> Iterator[Prepared]:
        """Read each file as it is asked for, so that a chunk of files is committed before the next is read."""
        for name in names:
            loaded = source.load(name)
            split = None
            if needs_split(loaded, previous.get(name)):
                assert loaded.document is not None
                split = split_document(loaded.document, work.embedder, work.settings)
            yield Prepared(name, loaded, split)

    def embed(self, batches: Sequence[Sequence[str]], work: Work) -> Iterator[tuple[int, np.ndarray]]:
        """Embed each batch with the work's model, in order."""
        for number, texts in enumerate(batches):
            yield number, embed_documents(work, texts)
