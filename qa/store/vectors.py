"""Vector search over stable 64-bit ids; the only module that imports faiss.

The index database holds every vector. For speed, a writer now and then freezes all of
them into one *base* file: an exact flat index while exact search is fast enough, an
IVF index beyond that. A snapshot searches the base (read into memory once, checked, with
the ids deleted since it was written filtered out) plus a small exact *delta* of vectors
added since. The base is never memory-mapped: a file truncated or overwritten under a
running server cannot crash it (SIGBUS) or change its answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from ..errors import IndexCorruptError, IndexMismatchError
from .integrity import FileStamp, bytes_sha256, file_sha256

#: Up to this many vectors the base is exact (flat inner product); above it, IVF.
#: Measured crossover in docs/benchmarks.md (benchmarks/ann.py).
EXACT_MAX = 40_000
#: Vectors sampled to train the IVF centroids.
_TRAIN_SAMPLE = 64 * 1024
#: IVF lists probed per question: ``PROBE_FACTOR * sqrt(lists)``, a tenth of 1,024 lists and
#: a twentieth of 4,096 (recall@10 against exact search 0.99 at 10^5, 1.0 at 10^6, measured).
PROBE_FACTOR = 3.2
#: Reading one vector back by id costs about as much as checking this many ids in a scan of
#: the whole file (IVF, 2 * 10^5 vectors: 1.7 us against 16 ns plus 0.4 us per id kept).
_RECONSTRUCT_COST = 64

#: OpenMP threads of one question's search, set on the searching thread before each search:
#: FAISS's threads collapse when the other core is busy (docs/benchmarks.md). Nothing is
#: changed when this module is imported.
SEARCH_THREADS = 1


def list_count(total: int) -> int:
    """IVF lists for ``total`` vectors: a power of two near ``4 * sqrt(total)``."""
    return int(2 ** round(np.log2(max(16.0, 4 * np.sqrt(total)))))


def probe_count(lists: int) -> int:
    """IVF lists searched per question for an index of ``lists`` lists."""
    return int(min(lists, max(16, round(PROBE_FACTOR * np.sqrt(lists)))))


def write_base(
    path: Path, batches: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]], total: int, dimension: int
) -> str:
    """Write a base file of ``total`` vectors; return its SHA-256.

    Args:
        path: Where the file goes (written under a temporary name, flushed, then renamed).
        batches: Returns a fresh iterator of ``(ids, vectors)`` batches each time it is called
            (IVF reads them twice: a sample to train on, then all of them).
        total: How many vectors the batches hold.
        dimension: Vector length.

    """
    if total > EXACT_MAX:
        index: faiss.Index = _ivf(batches, total, dimension)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    for ids, vectors in batches():
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    if index.ntotal != total:
        raise IndexCorruptError(f"vector file would hold {index.ntotal} vectors, expected {total}")
    tmp = path.with_name(f".tmp-{path.name}")
    faiss.write_index(index, str(tmp))
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    digest = file_sha256(tmp)
    os.replace(tmp, path)
    return digest


def _ivf(batches: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]], total: int, dimension: int) -> faiss.Index:
    """An empty IVF-flat inner-product index, its centroids trained on an even sample of all vectors."""
    lists = list_count(total)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    # Every k-th vector over the whole corpus, so that the centroids cover all of it.
    stride = max(1, total // _TRAIN_SAMPLE)
    sample, seen = [], 0
    for _, vectors in batches():
        first = (-seen) % stride
        sample.append(vectors[first::stride])
        seen += len(vectors)
    index.train(np.ascontiguousarray(np.concatenate(sample), dtype=np.float32))
    return index


@dataclass(frozen=True, eq=False)
class Allowed:
    """Base vectors a filtered search may return, and how it reaches them.

    Attributes:
        ids: The allowed ids, ascending.
        params: Search parameters with an allow-list; ``None``: score the allowed vectors
            exactly, read back by id.
        selector: The allow-list ``params`` refers to (kept alive here).

    """

    ids: np.ndarray
    params: faiss.SearchParameters | None = None
    selector: faiss.IDSelector | None = None

    def __len__(self) -> int:
        """Allowed vectors."""
        return len(self.ids)


class BaseVectors:
    """A base file read into memory and checked, searched with deleted ids filtered out."""

    def __init__(self, index: faiss.Index, path: Path, sha256: str, stamp: FileStamp | None = None) -> None:
        """Wrap an opened index; use :meth:`open`."""
        self._index = index
        self.path = path
        self.sha256 = sha256
        #: The file as it was when read (what any change to it since would change).
        self.stamp = stamp
        self.kind = "ivf" if isinstance(index, faiss.IndexIVF) else "flat"
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = probe_count(index.nlist)
            # Vectors by id (for exact rescoring and duplicate checks) through a hash table of ids.
            index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        """Vectors in the file."""
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self._index.d)

    @classmethod
    def open(cls, path: Path, *, sha256: str, count: int, dimension: int, verify: bool = True) -> BaseVectors:
        """Read ``path`` into memory, checking its checksum (unless ``verify`` is false), size and dimension.

        The bytes checked are the bytes searched: the file is read once.

        Raises:
            IndexCorruptError: The file is missing, damaged or disagrees with the database.

        """
        hint = "; run `qa index` to repair it"
        try:
            stamp = FileStamp.of(path)
            data = path.read_bytes()
            if verify and bytes_sha256(data) != sha256:
                raise IndexCorruptError(
                    f"the vector file {path} is damaged (checksum mismatch){hint}", part="vector file"
                )
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            del data
        except OSError as exc:
            raise IndexCorruptError(
                f"the vector file {path} is unreadable ({exc.strerror or exc}){hint}", part="vector file"
            ) from exc
        except RuntimeError as exc:
            raise IndexCorruptError(f"the vector file {path} is unreadable ({exc}){hint}", part="vector file") from exc
        if index.ntotal != count or index.d != dimension:
            raise IndexCorruptError(
                f"the vector file {path} holds {index.ntotal} vectors of {index.d} dimensions, "
                f"the database {count} of {dimension}{hint}",
                part="vector file",
            )
        return cls(index, path, sha256, stamp)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors with these ids.

        Raises:
            IndexCorruptError: An id is not in the file.

        """
        try:
            return np.asarray(
                self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64)), dtype=np.float32
            )
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"the vector file {self.path} lacks a vector the database names ({exc})", part="vector file"
            ) from exc

    def allow(self, ids: np.ndarray) -> Allowed:
        """Prepare searches among ``ids`` only: ids of this file still live, ascending.

        Few ids are scored exactly, read back by id. Up to ``EXACT_MAX`` an IVF file is
        searched with every list probed, so that no allowed vector is missed; beyond
        that it probes as many lists as an unfiltered search, skipping the others' ids.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) * _RECONSTRUCT_COST <= len(self):
            return Allowed(ids)
        selector = faiss.IDSelectorBatch(ids)
        params: faiss.SearchParameters
        if isinstance(self._index, faiss.IndexIVF):
            probes = self._index.nlist if len(ids) <= EXACT_MAX else self._index.nprobe
            params = faiss.SearchParametersIVF(sel=selector, nprobe=probes)  # type: ignore[call-arg]
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        return Allowed(ids, params, selector)

    def search(
        self, query: np.ndarray, k: int, exclude: np.ndarray, *, allowed: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, scores)`` of the ``k`` best vectors for one query.

        Args:
            query: The question's vector.
            k: Vectors wanted.
            exclude: Ids to skip (removed since the file was written).
            allowed: Search only these (from :meth:`allow`; live ids, so ``exclude`` is moot).

        Raises:
            IndexMismatchError: ``query`` is not as long as the file's vectors.

        """
        # FAISS asserts on a query of the wrong length: refuse it with a message first.
        _check_length(query, self.dimension, f"the vector file {self.path}")
        k = min(k, len(self) if allowed is None else len(allowed))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is not None and allowed.params is None:
            # Few allowed vectors: score each exactly, so that no probing can miss one.
            return exact_search(self.reconstruct(allowed.ids), allowed.ids, query, k)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params: faiss.SearchParameters | None = None
        if allowed is not None:
            params = allowed.params
        elif len(exclude):
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.ascontiguousarray(exclude, dtype=np.int64)))
            if isinstance(self._index, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self._index.nprobe)  # type: ignore[call-arg]
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        # On this thread only (OpenMP's thread count is a per-thread setting).
        faiss.omp_set_num_threads(SEARCH_THREADS)
        scores, ids = self._index.search(query, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]


def exact_search(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, scores)`` of the ``k`` rows of ``matrix`` with the highest inner product, best first.

    Raises:
        IndexMismatchError: ``query`` is not as long as the rows.

    """
    if len(matrix) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    _check_length(query, matrix.shape[1], "the stored vectors")
    # einsum's own loop, not BLAS: BLAS threads stall when the other core is busy.
    scores = np.einsum("ij,j->i", matrix, np.asarray(query, dtype=np.float32).reshape(-1))
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return ids[top], scores[top]


def _check_length(query: np.ndarray, dimension: int, where: str) -> None:
    """Raise :class:`IndexMismatchError` unless ``query`` holds one vector of ``dimension`` values."""
    if np.size(query) != dimension:
        raise IndexMismatchError(
            f"a question vector of {np.size(query)} values cannot search {where} ({dimension} dimensions); "
            "search with the model the index was built with, or rebuild it with `qa index`"
        )
