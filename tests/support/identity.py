"""Whether two index stores hold the same thing: files, passages, citations, windows, sentences, vectors.

Used to check that a build on a Ray cluster equals a local build (``tests/build/test_cluster.py``,
``benchmarks/ray_build.py``): everything but row ids, generations and times must match, and
vectors must agree within a tolerance.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.store import codec
from qa.store import database as db

#: Each table's rows as compared: what a reader sees, without row ids, generations or times.
_QUERIES = {
    "files": "SELECT source, size, mtime_ns, sha256, title, skipped FROM files ORDER BY source",
    "passages": (
        "SELECT source, paragraph, start_line, end_line, start_char, end_char, text, sha256, page, end_page,"
        " page_paragraph, section, terms, length, signature FROM passages ORDER BY source, paragraph"
    ),
    "windows": (
        f"SELECT p.source, p.paragraph, w.id - (p.id << {codec.WINDOW_BITS}), w.start, w.end, w.sha256 FROM windows w"
        " JOIN passages p ON p.id = w.passage_id ORDER BY p.source, p.paragraph, w.start"
    ),
    "sentences": (
        "SELECT p.source, p.paragraph, s.start, s.end, s.sha256 FROM sentences s"
        " JOIN passages p ON p.id = s.passage_id ORDER BY p.source, p.paragraph, s.start"
    ),
}


@dataclass(frozen=True)
class StoreComparison:
    """How two stores differ.

    Attributes:
        rows: Rows compared per table (of the first store).
        different: Tables whose rows differ.
        vectors: Stored vectors compared.
        missing_vectors: Vector keys in one store and not the other.
        max_difference: Largest absolute difference of any vector component.

    """

    rows: dict[str, int]
    different: tuple[str, ...]
    vectors: int
    missing_vectors: int
    max_difference: float

    def same(self, tolerance: float = 1e-5) -> bool:
        """Whether the stores hold the same rows and vectors within ``tolerance``."""
        return not self.different and not self.missing_vectors and self.max_difference <= tolerance


def _open(folder: Path) -> sqlite3.Connection:
    """The index database of ``folder``, read-only."""
    return sqlite3.connect(f"file:{folder / db.DATABASE}?mode=ro", uri=True)


def _vectors(connection: sqlite3.Connection) -> dict[str, bytes]:
    """Every stored vector by key."""
    return dict(connection.execute("SELECT sha256, vector FROM embeddings"))


def compare_stores(first: Path, second: Path) -> StoreComparison:
    """Compare the index stores in the folders ``first`` and ``second``."""
    a, b = _open(first), _open(second)
    try:
        rows: dict[str, int] = {}
        different = []
        for table, query in _QUERIES.items():
            left: list[Any] = a.execute(query).fetchall()
            right: list[Any] = b.execute(query).fetchall()
            rows[table] = len(left)
            if left != right:
                different.append(table)
        left_vectors, right_vectors = _vectors(a), _vectors(b)
    finally:
        a.close()
        b.close()
    shared = sorted(set(left_vectors) & set(right_vectors))
    missing = len(set(left_vectors) ^ set(right_vectors))
    largest = 0.0
    for start in range(0, len(shared), 20_000):
        keys = shared[start : start + 20_000]
        x = np.frombuffer(b"".join(left_vectors[k] for k in keys), dtype="<f4")
        y = np.frombuffer(b"".join(right_vectors[k] for k in keys), dtype="<f4")
        if x.shape != y.shape:
            return StoreComparison(rows, (*different, "embeddings"), len(shared), missing, float("inf"))
        largest = max(largest, float(np.abs(x - y).max(initial=0.0)))
    return StoreComparison(rows, tuple(different), len(shared), missing, largest)


def ranking_differences(first: Any, second: Any, questions: Sequence[str], *, k: int = 10) -> list[str]:
    """The questions whose top ``k`` passages (file and paragraph, in order) differ between two indexes."""
    return [
        question
        for question in questions
        if [(h.source, h.paragraph) for h in first.search(question, k=k)]
        != [(h.source, h.paragraph) for h in second.search(question, k=k)]
    ]
