"""BM25 keyword search through SQLite FTS5 over stemmed, stop-word-filtered terms.

Text is turned into terms by bm25s's tokenizer with the Snowball stemmer (the only
module that imports bm25s and PyStemmer); the terms are stored in an FTS5 table of the
index database, whose ``bm25()`` ranks them and which updates in place with each change.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

from .database import placeholders

# bm25s logs a line for every call; the index reports what matters itself.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_STOPWORDS = "en"
_LANGUAGE = "english"
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """A stemmer per thread (PyStemmer objects are not thread-safe)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer(_LANGUAGE)
    return stemmer


def tokens(text: str) -> list[str]:
    """The stemmed search terms of ``text``, stop words left out."""
    return terms_of([text])[0]


def terms_of(texts: Sequence[str]) -> list[list[str]]:
    """The stemmed search terms of each text, stop words left out."""
    if not texts:
        return []
    result = bm25s.tokenize(
        list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False, return_ids=False
    )
    return [list(words) for words in result]


def _match(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms``, each quoted literally."""
    unique = dict.fromkeys(terms)
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in unique)


class LexicalIndex:
    """BM25 over the ``lexical`` FTS5 table of an index database; rowid = passage id."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock) -> None:
        """Search through ``connection`` (shared, so every call holds ``lock``)."""
        self._connection = connection
        self._lock = lock

    @staticmethod
    def tokens(text: str) -> list[str]:
        """The stemmed query terms of ``text``."""
        return tokens(text)

    def top(self, question: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_ids, scores)`` of the ``limit`` best BM25 matches, best first."""
        terms = tokens(question)
        if not terms or limit < 1:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        with self._lock:
            rows = self._connection.execute(
                "SELECT rowid, -bm25(lexical) FROM lexical WHERE lexical MATCH ? ORDER BY bm25(lexical) LIMIT ?",
                (_match(terms), limit),
            ).fetchall()
        return _arrays(rows)

    def scores_of(self, question: str, passage_ids: Sequence[int]) -> dict[int, float]:
        """BM25 score of each of ``passage_ids`` that contains a question term (others score 0)."""
        terms = tokens(question)
        if not terms or not passage_ids:
            return {}
        ids = list(passage_ids)
        with self._lock:
            rows = self._connection.execute(
                "SELECT rowid, -bm25(lexical) FROM lexical"
                f" WHERE lexical MATCH ? AND rowid IN ({placeholders(len(ids))})",
                (_match(terms), *ids),
            ).fetchall()
        return {int(pid): float(score) for pid, score in rows}


def _arrays(rows: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Split ``(id, score)`` rows into two arrays."""
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    ids, scores = zip(*rows, strict=True)
    return np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)
