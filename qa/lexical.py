"""BM25 keyword search in segments: a memory-mapped base plus the paragraphs added since.

Text becomes terms through bm25s's tokenizer with the Snowball stemmer (the only module
that imports bm25s and PyStemmer). Scores follow Lucene's BM25 with k1 = 0.9 and b = 0.75
(k1 measured: docs/benchmarks.md, "Keyword scoring"), computed at question time from
corpus-wide statistics, so that a base segment and the paragraphs committed after it score
on one scale. SQLite FTS5's ``bm25()`` was
measured first and dropped: it scores every match row by row (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import logging
import math
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

from .errors import IndexCorruptError, shown

# bm25s logs a line for every call; the index reports what matters itself.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_STOPWORDS = "en"
_LANGUAGE = "english"
K1 = 0.9
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
    """A keyword segment: a term-by-document matrix in CSC form (memory-mapped for a base).

    Attributes:
        indptr: Start of each term's postings in ``rows``/``tf`` (one more than terms).
        rows: Document row of each posting.
        tf: Term frequency of each posting.
        doc_ids: Passage id of each document row, ascending.
        doc_len: Terms in each document.
        vocabulary: Term -> column, for an in-memory segment (a base keeps it in the database).
        path: The segment's folder, for a base.
        sha256: Checksum of the arrays, for a base.

    """

    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    doc_ids: np.ndarray
    doc_len: np.ndarray
    vocabulary: dict[str, int] | None = None
    path: Path | None = None
    sha256: str = ""

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]]) -> Segment:
        """An in-memory segment of ``(passage_id, terms)`` documents, ids ascending."""
        arrays, vocabulary = _arrays(documents)
        return cls(vocabulary=vocabulary, **arrays)  # type: ignore[arg-type]

    @classmethod
    def open(cls, path: Path, sha256: str) -> Segment:
        """Memory-map a segment written by :func:`write_segment`, after checking its checksum.

        Raises:
            IndexCorruptError: A file is missing, unreadable or damaged.

        """
        hint = "; run `qa index` to repair it"
        try:
            digest = _checksum(path)
        except OSError as exc:
            raise IndexCorruptError(f"the keyword index {path} is unreadable ({exc}){hint}") from exc
        if digest != sha256:
            raise IndexCorruptError(f"the keyword index {path} is damaged (checksum mismatch){hint}")
        arrays: dict[str, np.ndarray] = {}
        for name in _ARRAYS:
            try:
                arrays[name] = np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            except Exception as exc:
                # numpy reports a garbled or truncated file in several ways (OSError, ValueError, EOFError, ...).
                raise IndexCorruptError(
                    f"the keyword index {path} is unreadable ({name}.npy: {type(exc).__name__}: {exc}){hint}"
                ) from exc
        problem = _layout_problem(arrays)
        if problem:
            raise IndexCorruptError(f"the keyword index {path} is damaged ({problem}){hint}")
        return cls(path=path, sha256=sha256, **arrays)  # type: ignore[arg-type]

    @property
    def terms(self) -> int:
        """Columns (distinct terms) of the matrix."""
        return len(self.indptr) - 1

    def __len__(self) -> int:
        """Documents in the segment."""
        return len(self.doc_ids)

    def postings(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, tf)`` of one term."""
        start, end = int(self.indptr[column]), int(self.indptr[column + 1])
        return np.asarray(self.rows[start:end], dtype=np.int64), np.asarray(self.tf[start:end], dtype=np.float64)

    def rows_of(self, passage_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, found)``: each passage's row, and whether it is in this segment."""
        if not len(self.doc_ids) or not len(passage_ids):
            return np.zeros(len(passage_ids), dtype=np.int64), np.zeros(len(passage_ids), dtype=bool)
        rows = np.minimum(np.searchsorted(self.doc_ids, passage_ids), len(self.doc_ids) - 1)
        return rows, np.asarray(self.doc_ids[rows]) == passage_ids


def _layout_problem(arrays: dict[str, np.ndarray]) -> str:
    """What is wrong with a segment's arrays, or ``""``: shapes, kinds and ranges, read once at open.

    Checked so that no question can later index past an array: ``indptr`` starts at 0, never
    decreases and ends at the number of postings; every posting's row is a document row; passage
    ids ascend; frequencies and lengths are finite and not negative.
    """
    kinds = {"indptr": "i", "rows": "iu", "tf": "fiu", "doc_ids": "iu", "doc_len": "fiu"}
    for name, allowed in kinds.items():
        array = arrays[name]
        if array.ndim != 1 or array.dtype.kind not in allowed:
            return f"{name}.npy holds a {array.dtype} array of shape {array.shape}"
    indptr, rows, tf = arrays["indptr"], arrays["rows"], arrays["tf"]
    doc_ids, doc_len = arrays["doc_ids"], arrays["doc_len"]
    if len(indptr) < 1 or int(indptr[0]) != 0 or int(indptr[-1]) != len(rows):
        return f"indptr.npy does not span the {len(rows)} postings"
    if np.any(np.diff(indptr) < 0):
        return "indptr.npy decreases"
    if len(tf) != len(rows):
        return f"tf.npy holds {len(tf)} frequencies for {len(rows)} postings"
    if len(doc_len) != len(doc_ids):
        return f"doc_len.npy holds {len(doc_len)} lengths for {len(doc_ids)} documents"
    if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= len(doc_ids)):
        return f"rows.npy names a document outside 0..{len(doc_ids) - 1}"
    if len(doc_ids) and (int(doc_ids[0]) < 0 or np.any(np.diff(doc_ids) <= 0)):
        return "doc_ids.npy is not ascending"
    for name, values in (("tf", tf), ("doc_len", doc_len)):
        # min and max carry a NaN through, so these two reductions catch NaN, infinities and negatives.
        if len(values) and not (float(values.min()) >= 0 and math.isfinite(float(values.max()))):
            return f"{name}.npy holds a negative or non-finite value"
    return ""


def _checksum(path: Path) -> str:
    """SHA-256 over a segment's array files, in a fixed order."""
    digest = hashlib.sha256()
    for name in _ARRAYS:
        with (path / f"{name}.npy").open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def _arrays(documents: Iterable[tuple[int, str]]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The CSC arrays and vocabulary of ``(passage_id, terms)`` documents."""
    vocabulary: dict[str, int] = {}
    term_parts: list[np.ndarray] = []
    row_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    doc_ids: list[int] = []
    doc_len: list[int] = []
    for row, (pid, text) in enumerate(documents):
        counts = Counter(text.split())
        doc_ids.append(pid)
        doc_len.append(sum(counts.values()))
        if counts:
            term_parts.append(np.array([vocabulary.setdefault(t, len(vocabulary)) for t in counts], dtype=np.int64))
            row_parts.append(np.full(len(counts), row, dtype=np.int32))
            tf_parts.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    terms = np.concatenate(term_parts) if term_parts else np.zeros(0, dtype=np.int64)
    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int32)
    tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, dtype=np.float32)
    # Column-major: postings grouped by term, rows ascending within each term.
    order = np.lexsort((rows, terms))
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=indptr[1:])
    arrays = {
        "indptr": indptr,
        "rows": rows[order],
        "tf": tf[order],
        "doc_ids": np.asarray(doc_ids, dtype=np.int64),
        "doc_len": np.asarray(doc_len, dtype=np.float32),
    }
    return arrays, vocabulary


def write_segment(path: Path, documents: Iterable[tuple[int, str]]) -> tuple[str, dict[str, int]]:
    """Write a segment of ``(passage_id, terms)`` documents (ascending ids) to the folder ``path``.

    Files are written under a temporary name, flushed, then renamed into place.

    Returns:
        The checksum and the vocabulary (term -> column).

    """
    arrays, vocabulary = _arrays(documents)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        with (tmp / f"{name}.npy").open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
    digest = _checksum(tmp)
    os.replace(tmp, path)
    return digest, vocabulary


@dataclass(frozen=True)
class Stats:
    """Corpus-wide figures BM25 needs: documents and their average length."""

    documents: int
    avgdl: float


class LexicalScores:
    """BM25 scores of every document for one question: the best in order, any one by id.

    Attributes:
        attainable: The most any document could score for the question (every term with
            unbounded frequency): BM25 divided by it is on a 0-1 scale for every corpus.
        total_idf: Summed squared IDF of the question's distinct terms, those no document has
            included (squared, so that the rarest words weigh most).
        max_idf: The IDF of the question's rarest term, as a share of the largest IDF possible
            in this corpus (a term no document has): 1 means some term occurs nowhere.
        terms: The question's distinct terms.

    """

    def __init__(
        self,
        ordered: list[tuple[int, float]],
        parts: list[tuple[Segment, np.ndarray, np.ndarray]],
        *,
        attainable: float = 0.0,
        total_idf: float = 0.0,
        max_idf: float = 0.0,
        terms: int = 0,
    ) -> None:
        """Hold the best ``(passage_id, score)`` pairs and each segment's score and covered IDF per row."""
        self._ordered = ordered
        self._parts = parts
        self.attainable = attainable
        self.total_idf = total_idf
        self.max_idf = max_idf
        self.terms = terms

    def coverage(self, passage_ids: Sequence[int]) -> dict[int, float]:
        """Share of the question's squared-IDF mass whose terms each passage holds (0 to 1).

        Squared, the rarest words dominate: a passage holding them scores high however
        common the rest; words that occur nowhere in the corpus count against every passage.
        """
        ids = np.asarray([int(p) for p in passage_ids], dtype=np.int64)
        found = dict.fromkeys(ids.tolist(), 0.0)
        if self.total_idf <= 0:
            return found
        for segment, _, covered in self._parts:
            rows, inside = segment.rows_of(ids)
            for pid, row in zip(ids[inside].tolist(), rows[inside].tolist(), strict=True):
                found[pid] = float(covered[row]) / self.total_idf
        return found

    def top(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_ids, scores)`` of the ``limit`` best, best first."""
        best = self._ordered[:limit]
        return np.asarray([p for p, _ in best], dtype=np.int64), np.asarray([s for _, s in best], dtype=np.float64)

    def of(self, passage_ids: Sequence[int]) -> dict[int, float]:
        """Score of each passage (0 when no question term occurs in it)."""
        ids = np.asarray([int(p) for p in passage_ids], dtype=np.int64)
        found = dict.fromkeys(ids.tolist(), 0.0)
        for segment, summed, _ in self._parts:
            rows, inside = segment.rows_of(ids)
            for pid, row in zip(ids[inside].tolist(), rows[inside].tolist(), strict=True):
                found[pid] = float(summed[row])
        return found


class LexicalIndex:
    """BM25 over a base segment minus the passages removed since, plus a segment of those added since."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        lock: threading.Lock,
        base: Segment | None,
        delta: Segment,
        removed: np.ndarray,
        stats: Stats,
    ) -> None:
        """Search a snapshot's keyword parts; ``connection`` maps terms to the base's columns."""
        self._connection = connection
        self._lock = lock
        self.base = base
        self._delta = delta
        self._stats = stats
        # Base rows of passages removed since the base was written: neither scored nor counted.
        self._removed: np.ndarray | None = None
        if base is not None and len(removed):
            rows, inside = base.rows_of(np.asarray(removed, dtype=np.int64))
            if inside.any():
                self._removed = np.zeros(len(base), dtype=bool)
                self._removed[rows[inside]] = True

    def _base_columns(self, terms: Sequence[str]) -> dict[str, int]:
        """Base columns of the question's terms."""
        if self.base is None or not terms:
            return {}
        marks = ", ".join("?" * len(terms))
        with self._lock:
            rows = self._connection.execute(
                f"SELECT term, col FROM lexical_terms WHERE term IN ({marks})", tuple(terms)
            ).fetchall()
        columns = dict(rows)
        # The term list lives in the database: a column the segment lacks means they disagree.
        for term, column in columns.items():
            if isinstance(column, bool) or not isinstance(column, int) or not 0 <= column < self.base.terms:
                # A verifying build checks the segment's files, not this list: only a fresh build mends it.
                raise IndexCorruptError(
                    f"the keyword index {self.base.path} does not match the term list in the database "
                    f"(column {shown(column)} of {self.base.terms} for {shown(term)}); move the index folder "
                    "aside and run `qa index` to rebuild it"
                )
        return columns

    def scores(self, question: str, limit: int, *, within: np.ndarray | None = None) -> LexicalScores:
        """Score every document for ``question``; keep the ``limit`` best in order.

        Args:
            question: The question.
            limit: How many of the best to keep in order.
            within: Passage ids that may be among the best (ascending); ``None``: all.
                Term statistics stay corpus-wide, so scores do not depend on the choice.

        """
        # A term asked twice counts twice, as in bm25s.
        terms = tokens(question)
        if not terms or self._stats.documents == 0 or limit < 1 or (within is not None and not len(within)):
            return LexicalScores([], [])
        unique = list(dict.fromkeys(terms))
        segments = [(self.base, self._base_columns(unique)), (self._delta, self._delta.vocabulary or {})]
        live = [(segment, columns) for segment, columns in segments if segment is not None and len(segment)]
        # Each term's postings in each segment, without removed passages.
        postings: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
        for segment, columns in live:
            found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for term in unique:
                if term in columns:
                    rows, tf = segment.postings(columns[term])
                    if segment is self.base and self._removed is not None:
                        keep = ~self._removed[rows]
                        rows, tf = rows[keep], tf[keep]
                    found[term] = (rows, tf)
            postings.append(found)
        # Document frequency over both segments: idf is corpus-wide, so the scales agree.
        df = np.array([sum(len(p[t][0]) for p in postings if t in p) for t in unique], dtype=np.float64)
        values = idf(np.minimum(df, self._stats.documents), self._stats.documents)
        weights = dict(zip(unique, values.tolist(), strict=True))
        ordered: list[tuple[int, float]] = []
        parts: list[tuple[Segment, np.ndarray, np.ndarray]] = []
        for (segment, _), found in zip(live, postings, strict=True):
            row_parts, score_parts = [], []
            for term in terms:
                if term in found:
                    rows, tf = found[term]
                    length = np.asarray(segment.doc_len[rows], dtype=np.float64)
                    row_parts.append(rows)
                    score_parts.append(bm25(tf, length, self._stats.avgdl, float(weights[term])))
            if not row_parts:
                continue
            summed = np.bincount(np.concatenate(row_parts), weights=np.concatenate(score_parts), minlength=len(segment))
            # Each distinct term once, by its squared IDF: how much of the question each document holds.
            covered = np.zeros(len(segment))
            for term, (rows, _) in found.items():
                covered[rows] += weights[term] ** 2
            hit = np.flatnonzero(summed)
            if within is not None:
                # Only the chosen passages compete for the best places.
                hit = hit[_members(np.asarray(segment.doc_ids[hit], dtype=np.int64), within)]
            if len(hit) > limit:
                hit = hit[np.argpartition(-summed[hit], limit - 1)[:limit]]
            ids = np.asarray(segment.doc_ids[hit], dtype=np.int64)
            ordered += zip(ids.tolist(), summed[hit].tolist(), strict=True)
            parts.append((segment, summed, covered))
        ordered.sort(key=lambda pair: (-pair[1], pair[0]))
        ceiling = float(idf(np.zeros(1), self._stats.documents)[0])
        return LexicalScores(
            ordered[:limit],
            parts,
            attainable=sum(weights[term] for term in terms) * (K1 + 1),
            total_idf=float((values**2).sum()),
            max_idf=float(values.max()) / ceiling if ceiling > 0 else 0.0,
            terms=len(unique),
        )

    def top(self, question: str, limit: int, *, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_ids, scores)`` of the ``limit`` best BM25 matches (among ``within``), best first."""
        return self.scores(question, limit, within=within).top(limit)


def _members(ids: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in ``pool`` (ascending)."""
    if not len(pool):
        return np.zeros(len(ids), dtype=bool)
    rows = np.minimum(np.searchsorted(pool, ids), len(pool) - 1)
    found: np.ndarray = pool[rows] == ids
    return found
