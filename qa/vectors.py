"""Exact inner-product search over unit vectors; the only module that imports faiss."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError


class VectorIndex:
    """A flat FAISS inner-product index: exact cosine search over normalised vectors."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        """Create an empty index of ``dimension`` or wrap a loaded one."""
        self._index = index if index is not None else faiss.IndexFlatIP(dimension)
        if self._index.d != dimension:
            raise IndexCorruptError(f"vector index has dimension {self._index.d}, expected {dimension}")

    @property
    def dimension(self) -> int:
        """Length of each stored vector."""
        return int(self._index.d)

    def __len__(self) -> int:
        """Number of stored vectors."""
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append ``vectors``; row ``i`` of the batch gets id ``len(self) + i``."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"`vectors` must have shape (n, {self.dimension}), got {vectors.shape}")
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scores, ids)`` of the ``k`` best rows per query; ``k`` is capped at the size."""
        k = min(k, len(self))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def scores_of_rows(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products of one query vector with the stored ``rows``, exactly."""
        scores: np.ndarray = self.matrix()[rows] @ np.asarray(query, dtype=np.float32).reshape(-1)
        return scores

    def matrix(self) -> np.ndarray:
        """A zero-copy view of the flat index's storage: no second copy of the vectors."""
        stored = faiss.rev_swig_ptr(self._index.get_xb(), len(self) * self.dimension)  # type: ignore[attr-defined]
        return np.asarray(stored).view(np.float32).reshape(len(self), self.dimension)

    def vectors(self) -> np.ndarray:
        """All stored vectors as an ``(n, dimension)`` array (a copy)."""
        if len(self) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_n(0, len(self)), dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write the index to ``path`` in FAISS's own binary format."""
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorIndex:
        """Read an index written by :meth:`save`.

        Raises:
            IndexCorruptError: The file is unreadable or of the wrong dimension.

        """
        try:
            index = faiss.read_index(str(path))
        except Exception as exc:
            raise IndexCorruptError(f"cannot read vector index {path}: {exc}") from exc
        return cls(dimension, index)
