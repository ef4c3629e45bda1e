"""Fusing dense and keyword scores into one ranking, with the sentence stage and rare-word coverage."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..config import Settings
from ..store.bm25 import LexicalScores


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale ``values`` to [0, 1]; a constant array maps to zeros."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.zeros_like(values, dtype=np.float64)
    return (values - low) / (high - low)


def reciprocal_rank(dense: dict[int, float], lexical: dict[int, float], k: int) -> dict[int, float]:
    """Reciprocal-rank fusion of the two rankings (constant ``k``)."""
    fused: dict[int, float] = {}
    for ranking in (sorted(dense, key=lambda p: -dense[p]), sorted(lexical, key=lambda p: -lexical[p])):
        for position, pid in enumerate(ranking, start=1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + position)
    return fused


def fuse(
    settings: Settings,
    all_lexical: LexicalScores,
    dense: dict[int, float],
    lexical: dict[int, float],
    *,
    dense_for: Callable[[Sequence[int]], dict[int, float]],
    sentence_for: Callable[[Sequence[int]], dict[int, float]],
    markers_for: Callable[[Sequence[int]], dict[int, float]] | None = None,
) -> tuple[list[int], dict[int, float], dict[int, float]]:
    """Merge dense and lexical candidates into one ordering with fused scores.

    With min-max fusion every candidate is scored on both scales (``dense_for`` gives the
    cosines a candidate found only by keywords lacks), so that no score is guessed, and
    ``dense`` and ``lexical`` are completed in place. Reciprocal-rank fusion needs only
    the two rankings: it completes nothing and scores no sentences.

    Returns:
        The order, the fused scores and the best sentence cosine of the leading
        passages that have sentences stored (``sentence_for``).

    """
    if settings.fusion == "rrf":
        fused = reciprocal_rank(dense, lexical, settings.rrf_k)
        return sorted(fused, key=lambda p: -fused[p]), fused, {}
    ids = sorted(set(dense) | set(lexical))
    missing_dense = [p for p in ids if p not in dense]
    if missing_dense:
        dense.update(dense_for(missing_dense))
    missing_lexical = [p for p in ids if p not in lexical]
    if missing_lexical:
        lexical.update(all_lexical.of(missing_lexical))
    dense_values = np.array([dense.get(p, -1.0) for p in ids])
    lexical_values = np.array([lexical[p] for p in ids], dtype=np.float64)
    dense_part, lexical_part = minmax(dense_values), minmax(lexical_values)
    combined = settings.dense_weight * dense_part + (1 - settings.dense_weight) * lexical_part
    sentences: dict[int, float] = {}
    if settings.sentence_share > 0 or settings.coverage_weight > 0:
        # Second stage: the leading candidates are scored by their best sentence too (a
        # passage that answers in one sentence among unrelated ones), the others by their
        # paragraph cosine in that place; every candidate gains its share of the question's
        # rare words, so that a passage holding them is not buried by topical similarity.
        leading = np.argsort(-combined, kind="stable")[: settings.sentence_candidates]
        sentences = sentence_for([ids[i] for i in leading.tolist()])
        # A passage's sentence score is never under its paragraph's: an answer spread over
        # several sentences must not lose to one that fits in one.
        sentence_values = np.array([max(sentences.get(p, -1.0), dense.get(p, -1.0)) for p in ids])
        covered = all_lexical.coverage(ids)
        share = settings.sentence_share
        combined = (
            settings.dense_weight * ((1 - share) * dense_part + share * minmax(sentence_values))
            + (1 - settings.dense_weight) * lexical_part
            + settings.coverage_weight * np.array([covered[p] for p in ids])
        )
    if markers_for is not None and settings.marker_weight > 0:
        # Time and contrast words ("again", "no longer") weigh on their own (qa.search.markers).
        held = markers_for(ids)
        combined = combined + settings.marker_weight * np.array([held.get(p, 0.0) for p in ids])

    scores = {int(p): float(s) for p, s in zip(ids, combined.tolist(), strict=True)}
    return sorted(scores, key=lambda p: (-scores[p], -dense.get(p, -1.0), p)), scores, sentences
