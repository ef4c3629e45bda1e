"""BM25 keyword search in segments: a memory-mapped base plus the paragraphs added since.

Text becomes terms through :mod:`qa.text.terms` (bm25s's tokenizer, Snowball stems).
Scores follow Lucene's BM25 with k1 = 0.9 and b = 0.75
(k1 measured: docs/benchmarks.md, "Keyword scoring"), computed at question time from
corpus-wide statistics, so that a base segment and the paragraphs committed after it score
on one scale. SQLite FTS5's ``bm25()`` was
measured first and dropped: it scores every match row by row (docs/benchmarks.md).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import IndexCorruptError, shown
from ..text.terms import tokens
from .database import placeholders
from .segments import Segment

K1 = 0.9
B = 0.75
#: Most passages a term may occur in for its passages to be listed (:attr:`LexicalScores.rare`):
#: names and rare words are; a term in more passages is too common to tell files apart.
RARE_TERM_PASSAGES = 500


@dataclass(frozen=True)
class RareTerm:
    """A question term that few passages hold, with those passages.

    Attributes:
        term: The stemmed term.
        idf: Its BM25 inverse document frequency.
        passage_ids: Every passage that holds it.

    """

    term: str
    idf: float
    passage_ids: np.ndarray


def idf(df: np.ndarray, total: int) -> np.ndarray:
    """Lucene's BM25 inverse document frequency."""
    return np.log(1.0 + (total - df + 0.5) / (df + 0.5))


def bm25(tf: np.ndarray, length: np.ndarray, avgdl: float, weight: float) -> np.ndarray:
    """One term's BM25 contribution for each posting."""
    return weight * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / max(avgdl, 1e-9)))


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
        rare: The question's terms that few passages hold, with those passages.
        frequency: How many passages hold each of the question's terms.

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
        rare: Sequence[RareTerm] | Callable[[], Sequence[RareTerm]] = (),
        frequency: dict[str, int] | None = None,
    ) -> None:
        """Hold the best ``(passage_id, score)`` pairs and each segment's score and covered IDF per row.

        ``rare``: the question's terms held by at most :data:`RARE_TERM_PASSAGES` passages, or
        what lists them when first asked (only follow-ups ask: a plain search lists nothing).
        """
        self._ordered = ordered
        self._parts = parts
        self._rare = rare

        self.frequency = dict(frequency or {})
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

    @property
    def rare(self) -> tuple[RareTerm, ...]:
        """The question's terms that few passages hold, with those passages (listed on first use)."""
        if callable(self._rare):
            self._rare = tuple(self._rare())
        return tuple(self._rare)

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
        marks = placeholders(len(terms))
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
                hit = _best(hit, summed[hit], np.asarray(segment.doc_ids[hit], dtype=np.int64), limit)
            ids = np.asarray(segment.doc_ids[hit], dtype=np.int64)
            ordered += zip(ids.tolist(), summed[hit].tolist(), strict=True)
            parts.append((segment, summed, covered))
        ordered.sort(key=lambda pair: (-pair[1], pair[0]))

        def rare() -> list[RareTerm]:
            """The passages of each rarely used term, across segments (for what their files hold)."""
            listed = []
            for term, count, weight in zip(unique, df.tolist(), values.tolist(), strict=True):
                if 0 < count <= RARE_TERM_PASSAGES:
                    held = [
                        np.asarray(segment.doc_ids[found[term][0]], dtype=np.int64)
                        for (segment, _), found in zip(live, postings, strict=True)
                        if term in found
                    ]
                    listed.append(RareTerm(term, weight, np.concatenate(held)))
            return listed

        ceiling = float(idf(np.zeros(1), self._stats.documents)[0])
        return LexicalScores(
            ordered[:limit],
            parts,
            attainable=sum(weights[term] for term in terms) * (K1 + 1),
            total_idf=float((values**2).sum()),
            max_idf=float(values.max()) / ceiling if ceiling > 0 else 0.0,
            terms=len(unique),
            rare=rare,
            frequency={term: int(count) for term, count in zip(unique, df.tolist(), strict=True)},
        )

    def top(self, question: str, limit: int, *, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_ids, scores)`` of the ``limit`` best BM25 matches (among ``within``), best first."""
        return self.scores(question, limit, within=within).top(limit)


def _best(rows: np.ndarray, scores: np.ndarray, ids: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` best of ``rows`` by score; ties at the cut go to the lowest passage ids.

    That is the final order's rule, so that a base and a delta cut as one segment would.
    """
    # A NaN (a damaged length) ranks last, rather than dropping every row from the comparisons.
    scores = np.nan_to_num(scores, nan=-np.inf)
    cut = np.partition(scores, len(scores) - limit)[len(scores) - limit]
    above = rows[scores > cut]
    tied = np.flatnonzero(scores == cut)
    chosen = tied[np.argsort(ids[tied], kind="stable")[: limit - len(above)]]
    return np.concatenate([above, rows[chosen]])


def _members(ids: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in ``pool`` (ascending)."""
    if not len(pool):
        return np.zeros(len(ids), dtype=bool)
    rows = np.minimum(np.searchsorted(pool, ids), len(pool) - 1)
    found: np.ndarray = pool[rows] == ids
    return found
