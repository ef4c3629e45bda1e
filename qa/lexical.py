"""BM25 keyword search in segments: a memory-mapped base plus the paragraphs added since.

Text becomes terms through bm25s's tokenizer with the Snowball stemmer (the only module
that imports bm25s and PyStemmer). Scores follow bm25s's default (Lucene) BM25, k1 = 1.5,
b = 0.75, computed at question time from corpus-wide statistics, so that a base segment
and the paragraphs committed after it score on one scale. SQLite FTS5's ``bm25()`` was
measured first and dropped: it scores every match row by row (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from .errors import IndexCorruptError

# bm25s logs a line for every call; the index reports what matters itself.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_STOPWORDS = "en"
_LANGUAGE = "english"
K1 = 1.5
B = 0.75
_ARRAYS = ("indptr", "rows", "tf", "doc_ids", "doc_len")
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """A stemmer per thread (PyStemmer objects are not thread-safe)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer(_LANGUAGE)
    return stemmer


def terms_of(texts: Sequence[str]) -> list[list[str]]:
    """The stemmed search terms of each text, stop words left out."""
    if not texts:
        return []
    result = bm25s.tokenize(
        list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False, return_ids=False
    )
    return [list(words) for words in result]


def tokens(text: str) -> list[str]:
    """The stemmed search terms of ``text``, stop words left out."""
    return terms_of([text])[0]


def idf(df: np.ndarray, total: int) -> np.ndarray:
    """Lucene's BM25 inverse document frequency."""
    return np.log(1.0 + (total - df + 0.5) / (df + 0.5))


def bm25(tf: np.ndarray, length: np.ndarray, avgdl: float, weight: float) -> np.ndarray:
    """One term's BM25 contribution for each posting."""
    return weight * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / max(avgdl, 1e-9)))


@dataclass(frozen=True)
class Segment:
    """A frozen keyword segment: a term-by-document matrix in CSC form, memory-mapped.

    Attributes:
        path: The segment's folder.
        indptr: Start of each term's postings in ``rows``/``tf`` (one more than terms).
        rows: Document row of each posting.
        tf: Term frequency of each posting.
        doc_ids: Passage id of each document row, ascending.
        doc_len: Terms in each document.
        sha256: Checksum of the arrays, as recorded by the writer.

    """

    path: Path
    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    doc_ids: np.ndarray
    doc_len: np.ndarray
    sha256: str

    @classmethod
    def open(cls, path: Path, sha256: str) -> Segment:
        """Memory-map a segment after checking its checksum.

        Raises:
            IndexCorruptError: A file is missing, unreadable or damaged.

        """
        hint = "; run `qa index` to repair it"
        try:
            if _checksum(path) != sha256:
                raise IndexCorruptError(f"the keyword index {path} is damaged (checksum mismatch){hint}")
            arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"the keyword index {path} is unreadable ({exc}){hint}") from exc
        return cls(path=path, sha256=sha256, **arrays)

    def __len__(self) -> int:
        """Documents in the segment."""
        return len(self.doc_ids)


def _checksum(path: Path) -> str:
    """SHA-256 over a segment's array files, in a fixed order."""
    digest = hashlib.sha256()
    for name in _ARRAYS:
        with (path / f"{name}.npy").open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def write_segment(path: Path, documents: Iterable[tuple[int, str]]) -> tuple[str, dict[str, int]]:
    """Write a segment of ``(passage_id, terms)`` documents (ascending ids) to the folder ``path``.

    Returns:
        The checksum and the vocabulary (term -> column).

    """
    vocabulary: dict[str, int] = {}
    postings_term: list[np.ndarray] = []
    postings_row: list[np.ndarray] = []
    postings_tf: list[np.ndarray] = []
    doc_ids: list[int] = []
    doc_len: list[int] = []
    for row, (pid, text) in enumerate(documents):
        counts = Counter(text.split())
        doc_ids.append(pid)
        doc_len.append(sum(counts.values()))
        if counts:
            postings_term.append(np.array([vocabulary.setdefault(t, len(vocabulary)) for t in counts], dtype=np.int64))
            postings_row.append(np.full(len(counts), row, dtype=np.int32))
            postings_tf.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    terms = np.concatenate(postings_term) if postings_term else np.zeros(0, dtype=np.int64)
    rows = np.concatenate(postings_row) if postings_row else np.zeros(0, dtype=np.int32)
    tf = np.concatenate(postings_tf) if postings_tf else np.zeros(0, dtype=np.float32)
    # Column-major: postings grouped by term, rows ascending within each term.
    order = np.lexsort((rows, terms))
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=indptr[1:])
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.mkdir(parents=True, exist_ok=True)
    arrays = {
        "indptr": indptr,
        "rows": rows[order],
        "tf": tf[order],
        "doc_ids": np.asarray(doc_ids, dtype=np.int64),
        "doc_len": np.asarray(doc_len, dtype=np.float32),
    }
    for name, array in arrays.items():
        with (tmp / f"{name}.npy").open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
    digest = _checksum(tmp)
    os.replace(tmp, path)
    return digest, vocabulary


@dataclass(frozen=True)
class Delta:
    """Documents committed after the base segment, held in memory (few by construction)."""

    postings: dict[str, list[tuple[int, int]]]
    lengths: dict[int, int]

    @classmethod
    def of(cls, documents: Iterable[tuple[int, str]]) -> Delta:
        """Index ``(passage_id, terms)`` documents."""
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths: dict[int, int] = {}
        for pid, text in documents:
            counts = Counter(text.split())
            lengths[pid] = sum(counts.values())
            for term, count in counts.items():
                postings.setdefault(term, []).append((pid, count))
        return cls(postings, lengths)


@dataclass(frozen=True)
class Stats:
    """Corpus-wide figures BM25 needs: documents and their average length."""

    documents: int
    avgdl: float


class LexicalScores:
    """BM25 scores of every document for one question: the best in order, any one by id."""

    def __init__(
        self,
        ordered: list[tuple[int, float]],
        extra: dict[int, float],
        doc_ids: np.ndarray | None = None,
        summed: np.ndarray | None = None,
    ) -> None:
        """Hold the best ``(passage_id, score)`` pairs, delta scores, and the base's score per row."""
        self._ordered = ordered
        self._extra = extra
        self._doc_ids = doc_ids
        self._summed = summed

    def top(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_ids, scores)`` of the ``limit`` best, best first."""
        best = self._ordered[:limit]
        return np.asarray([p for p, _ in best], dtype=np.int64), np.asarray([s for _, s in best], dtype=np.float64)

    def of(self, passage_ids: Sequence[int]) -> dict[int, float]:
        """Score of each passage (0 when no question term occurs in it)."""
        found = {int(p): self._extra.get(int(p), 0.0) for p in passage_ids}
        if self._doc_ids is None or self._summed is None:
            return found
        base = [p for p in found if p not in self._extra]
        ids = np.asarray(base, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self._doc_ids, ids), len(self._doc_ids) - 1)
        match = np.asarray(self._doc_ids[rows]) == ids
        for pid, row, ok in zip(base, rows.tolist(), match.tolist(), strict=True):
            if ok:
                found[pid] = float(self._summed[row])
        return found


class LexicalIndex:
    """BM25 over a base segment, minus passages removed since, plus the delta documents."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        lock: threading.Lock,
        base: Segment | None,
        delta: Delta,
        removed: np.ndarray,
        stats: Stats,
    ) -> None:
        """Search a snapshot's keyword parts; ``connection`` maps terms to base columns."""
        self._connection = connection
        self._lock = lock
        self.base = base
        self._delta = delta
        self._stats = stats
        self._removed_rows = np.zeros(0, dtype=np.int64)
        if base is not None and len(removed):
            rows = np.searchsorted(base.doc_ids, removed)
            inside = rows < len(base.doc_ids)
            rows = rows[inside]
            self._removed_rows = rows[base.doc_ids[rows] == removed[inside]]

    @staticmethod
    def tokens(text: str) -> list[str]:
        """The stemmed query terms of ``text``."""
        return tokens(text)

    def _columns(self, terms: Sequence[str]) -> dict[str, int]:
        """Base columns of the question's terms."""
        if self.base is None or not terms:
            return {}
        marks = ", ".join("?" * len(terms))
        with self._lock:
            rows = self._connection.execute(
                f"SELECT term, col FROM lexical_terms WHERE term IN ({marks})", tuple(terms)
            ).fetchall()
        return dict(rows)

    def scores(self, question: str, limit: int) -> LexicalScores:
        """Score every document for ``question``; keep the ``limit`` best in order."""
        # A term asked twice counts twice, as in bm25s.
        terms = tokens(question)
        columns = self._columns(list(dict.fromkeys(terms)))
        stats = self._stats
        extra: dict[int, float] = {}
        if not terms or stats.documents == 0:
            return LexicalScores([], {})
        rows_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        for term in terms:
            base_df = 0
            start = end = 0
            if self.base is not None and term in columns:
                start, end = int(self.base.indptr[columns[term]]), int(self.base.indptr[columns[term] + 1])
                base_df = end - start
            delta = self._delta.postings.get(term, [])
            weight = float(idf(np.array([base_df + len(delta)], dtype=np.float64), stats.documents)[0])
            if end > start and self.base is not None:
                rows = np.asarray(self.base.rows[start:end], dtype=np.int64)
                tf = np.asarray(self.base.tf[start:end], dtype=np.float64)
                rows_parts.append(rows)
                weight_parts.append(
                    bm25(tf, np.asarray(self.base.doc_len[rows], dtype=np.float64), stats.avgdl, weight)
                )
            for pid, count in delta:
                extra[pid] = extra.get(pid, 0.0) + float(
                    bm25(
                        np.array([count], dtype=np.float64), np.array([self._delta.lengths[pid]]), stats.avgdl, weight
                    )[0]
                )
        ordered = list(extra.items())
        doc_ids = summed = None
        if rows_parts and self.base is not None:
            summed = np.bincount(
                np.concatenate(rows_parts), weights=np.concatenate(weight_parts), minlength=len(self.base)
            )
            if len(self._removed_rows):
                summed[self._removed_rows] = 0.0
            hit_rows = np.flatnonzero(summed)
            if len(hit_rows) > limit:
                hit_rows = hit_rows[np.argpartition(-summed[hit_rows], limit - 1)[:limit]]
            doc_ids = self.base.doc_ids
            ids = np.asarray(doc_ids[hit_rows], dtype=np.int64)
            ordered += list(zip(ids.tolist(), summed[hit_rows].tolist(), strict=True))
        ordered.sort(key=lambda pair: (-pair[1], pair[0]))
        return LexicalScores(ordered[:limit], extra, doc_ids, summed)

    def top(self, question: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_ids, scores)`` of the ``limit`` best BM25 matches, best first."""
        if limit < 1:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return self.scores(question, limit).top(limit)
