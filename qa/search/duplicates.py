"""Folding near-duplicate passages into the first copy ranked, so that each is shown once, "also in" the others.

Two passages are twins when their vectors are close (cosine at least :data:`TWIN_COSINE`)
and their word trigrams overlap (MinHash estimate of Jaccard similarity at least the
settings' ``duplicate_jaccard``), or their texts are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..store.snapshot import Candidate
from ..text.sketch import similarities
from .hits import Hit, citation

#: Vector cosine above which two paragraphs are compared word by word for duplication.
TWIN_COSINE = 0.9


def collapse(
    order: Sequence[int],
    scores: dict[int, float],
    dense: dict[int, float],
    lexical: dict[int, float],
    k: int,
    *,
    candidates: Callable[[Sequence[int]], dict[int, Candidate]],
    threshold: float,
    label: str,
) -> list[Hit]:
    """Walk the ranking ``order``, folding near-duplicates into the first copy, until ``k`` hits.

    Candidates are read (``candidates``) in growing blocks, only as far as the walk goes; both
    twin tests are computed for a whole block at once, recording for each candidate the first
    kept hit it is a twin of.
    """
    row_of: dict[int, int] = {}
    passages: list[Candidate] = []
    vectors: list[np.ndarray] = []
    sketches: list[np.ndarray] = []
    kept: list[int] = []
    kept_rows: list[int] = []
    folded: dict[int, list[int]] = {}
    by_hash: dict[str, int] = {}
    # For each candidate read so far, the first kept hit it is a twin of (-1: none).
    first_twin = np.zeros(0, dtype=np.int64)
    all_v = np.zeros((0, 0), dtype=np.float32)
    all_s = np.zeros((0, 0), dtype=np.uint32)
    fetched = 0

    def twins_with(rows_v: np.ndarray, rows_s: np.ndarray, row: int) -> np.ndarray:
        """Which of these candidates are twins of the candidate at ``row``."""
        close = rows_v @ vectors[row] >= TWIN_COSINE
        similar = similarities(rows_s, sketches[row]) >= threshold
        result: np.ndarray = close & similar
        return result

    def fetch(upto: int) -> None:
        # Candidates are read in growing blocks, only as far as the walk goes.
        nonlocal fetched, first_twin, all_v, all_s
        block = list(order[fetched:upto])
        fetched = max(fetched, upto)
        found = candidates(block) if block else {}
        start = len(passages)
        for pid in block:
            if pid in found:
                row_of[pid] = len(passages)
                passages.append(found[pid])
                vectors.append(found[pid].vector)
                sketches.append(np.frombuffer(found[pid].signature, dtype=np.uint32))
        if len(passages) == start:
            return
        new = np.full(len(passages) - start, -1, dtype=np.int64)
        block_v, block_s = np.stack(vectors[start:]), np.stack(sketches[start:])
        for column, row in enumerate(kept_rows):
            new[(new < 0) & twins_with(block_v, block_s, row)] = column
        first_twin = np.concatenate([first_twin, new])
        all_v = block_v if not start else np.concatenate([all_v, block_v])
        all_s = block_s if not start else np.concatenate([all_s, block_s])

    fetch(3 * k + 10)
    horizon: int | None = None
    for position, pid in enumerate(order):
        if horizon is not None and position >= horizon:
            break
        if position >= fetched:
            fetch(2 * fetched)
        row = row_of.get(pid)
        if row is None:
            continue
        twin = by_hash.get(passages[row].passage.sha256)
        if twin is None and first_twin[row] >= 0:
            twin = kept[int(first_twin[row])]
        if twin is not None:
            folded[twin].append(pid)
        elif len(kept) < k:
            # A new kept hit: candidates read so far that are its twins (and no earlier hit's).
            first_twin[(first_twin < 0) & twins_with(all_v, all_s, row)] = len(kept)
            kept.append(pid)
            kept_rows.append(row)
            by_hash[passages[row].passage.sha256] = pid
            folded[pid] = []
            if len(kept) == k:
                horizon = position + 1 + 2 * k
    hits: list[Hit] = []
    for rank, pid in enumerate(kept, start=1):
        passage = passages[row_of[pid]].passage
        twins = tuple(passages[row_of[t]].passage for t in folded[pid])
        hits.append(
            Hit(
                passage=passage,
                score=scores[pid],
                rank=rank,
                citation=citation(label, passage),
                dense_score=dense.get(pid),
                lexical_score=lexical.get(pid),
                also_in=tuple(citation(label, t) for t in twins),
                duplicates=twins,
                passage_id=pid,
                duplicate_ids=tuple(folded[pid]),
            )
        )
    return hits
