"""Fusing dense and keyword scores (qa.search.fusion): min-max scaling, reciprocal ranks, the sentence stage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from qa.config import Settings
from qa.search.fusion import fuse, minmax, reciprocal_rank
from qa.store.bm25 import LexicalScores
from qa.store.segments import Segment


def keyword_scores(
    scores: dict[int, float], covered: dict[int, float] | None = None, *, total_idf: float = 0.0
) -> LexicalScores:
    """BM25 scores (and squared-IDF mass covered) of every passage for one question, by passage id."""
    ids = sorted(scores)
    segment = Segment.build((pid, "word") for pid in ids)
    summed = np.array([scores[p] for p in ids], dtype=np.float64)
    mass = np.array([(covered or {}).get(p, 0.0) for p in ids], dtype=np.float64)
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return LexicalScores(ordered, [(segment, summed, mass)], attainable=10.0, total_idf=total_idf, max_idf=0.5, terms=3)


class Lookup:
    """A ``dense_for`` or ``sentence_for`` stand-in: answers from a table and records what it was asked."""

    def __init__(self, table: dict[int, float]) -> None:
        self.table = table
        self.asked: list[list[int]] = []

    def __call__(self, ids: Sequence[int]) -> dict[int, float]:
        self.asked.append(list(ids))
        return {p: self.table[p] for p in ids if p in self.table}


def never(ids: Sequence[int]) -> dict[int, float]:
    raise AssertionError(f"not expected to be asked for {list(ids)}")


def plain(**changes: object) -> Settings:
    """Min-max fusion without the sentence stage or the coverage bonus, unless ``changes`` say otherwise."""
    values: dict[str, object] = {"fusion": "minmax", "dense_weight": 0.5, "sentence_share": 0.0, "coverage_weight": 0.0}
    return Settings(**{**values, **changes})  # type: ignore[arg-type]


# -- scaling and reciprocal ranks -----------------------------------------------------------


def test_minmax_maps_the_lowest_to_zero_and_the_highest_to_one() -> None:
    assert minmax(np.array([2.0, 4.0, 6.0])).tolist() == [0.0, 0.5, 1.0]
    assert minmax(np.array([-1.0, 1.0, 0.0])).tolist() == [0.0, 1.0, 0.5]


@pytest.mark.parametrize("values", [[3.0, 3.0, 3.0], [0.7], [1.0, 1.0 + 1e-13]])
def test_minmax_of_a_constant_array_is_zeros_not_a_division_by_zero(values: list[float]) -> None:
    scaled = minmax(np.array(values))
    assert scaled.tolist() == [0.0] * len(values) and scaled.dtype == np.float64
    assert minmax(np.array(values, dtype=np.float32)).dtype == np.float64


def test_reciprocal_rank_sums_one_over_k_plus_the_rank_in_each_ranking() -> None:
    dense = {1: 0.9, 2: 0.8}
    lexical = {3: 6.0, 2: 5.0}
    fused = reciprocal_rank(dense, lexical, 60)
    assert fused == pytest.approx({1: 1 / 61, 2: 1 / 62 + 1 / 62, 3: 1 / 61})
    # Second in both rankings beats first in only one.
    assert max(fused, key=fused.__getitem__) == 2


def test_rrf_fusion_orders_by_reciprocal_rank_without_asking_for_more_scores() -> None:
    dense = {1: 0.9, 2: 0.8}
    lexical = {3: 6.0, 2: 5.0}
    order, fused, sentences = fuse(
        plain(fusion="rrf", rrf_k=10, sentence_share=0.5, coverage_weight=0.1),
        keyword_scores({1: 0.0, 2: 5.0, 3: 6.0}),
        dense,
        lexical,
        dense_for=never,
        sentence_for=never,
    )
    assert fused == reciprocal_rank({1: 0.9, 2: 0.8}, {3: 6.0, 2: 5.0}, 10)
    assert order[0] == 2 and set(order) == {1, 2, 3} and sentences == {}


# -- min-max fusion -------------------------------------------------------------------------


def test_minmax_fusion_scores_every_candidate_on_both_scales_and_completes_them_in_place() -> None:
    dense = {1: 0.8, 2: 0.4}
    lexical = {2: 6.0, 3: 2.0}
    dense_for = Lookup({3: 0.6})
    order, fused, sentences = fuse(
        plain(), keyword_scores({1: 0.0, 2: 6.0, 3: 2.0}), dense, lexical, dense_for=dense_for, sentence_for=never
    )
    # Only the cosine that was missing is asked for; the keyword score of 1 comes from all the scores.
    assert dense_for.asked == [[3]]
    assert dense == {1: 0.8, 2: 0.4, 3: 0.6} and lexical == {1: 0.0, 2: 6.0, 3: 2.0}
    # Dense scaled: 1, 0, 0.5; keywords scaled: 0, 1, 1/3; half of each.
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.5 * 0.5 + 0.5 / 3})
    # 1 and 2 tie: the higher cosine goes first.
    assert order == [1, 2, 3] and sentences == {}


def test_a_full_set_of_cosines_asks_for_none() -> None:
    order, _, _ = fuse(
        plain(), keyword_scores({1: 1.0, 2: 3.0}), {1: 0.9, 2: 0.1}, {2: 3.0}, dense_for=never, sentence_for=never
    )
    assert order == [1, 2]


def test_candidates_with_equal_scores_and_cosines_are_ordered_by_id() -> None:
    order, fused, _ = fuse(
        plain(),
        keyword_scores({4: 2.0, 5: 2.0, 9: 0.0}),
        {5: 0.7, 4: 0.7, 9: 0.1},
        {},
        dense_for=never,
        sentence_for=never,
    )
    assert fused[4] == fused[5] and order == [4, 5, 9]


def test_the_dense_weight_shares_the_fused_score_between_the_scales() -> None:
    lexical_scores = keyword_scores({1: 1.0, 2: 9.0})

    def ordered(weight: float) -> list[int]:
        order, _, _ = fuse(
            plain(dense_weight=weight), lexical_scores, {1: 0.9, 2: 0.2}, {}, dense_for=never, sentence_for=never
        )
        return order

    assert ordered(1.0) == [1, 2]
    assert ordered(0.0) == [2, 1]


def test_the_sentence_stage_scores_the_leading_candidates_by_their_best_sentence_and_adds_coverage() -> None:
    settings = plain(sentence_share=0.5, coverage_weight=0.1, sentence_candidates=2)
    all_lexical = keyword_scores({1: 0.0, 2: 6.0, 3: 2.0}, {1: 0.0, 2: 1.0, 3: 2.0}, total_idf=2.0)
    sentence_for = Lookup({1: 0.5, 2: 0.9, 3: 0.99})
    order, fused, sentences = fuse(
        settings, all_lexical, {1: 0.8, 2: 0.4, 3: 0.6}, {2: 6.0, 3: 2.0}, dense_for=never, sentence_for=sentence_for
    )
    # The first fusion leads with 1 and 2 (0.5 each; 3 has 0.42): only they are scored by sentence.
    assert sentence_for.asked == [[1, 2]] and sentences == {1: 0.5, 2: 0.9}
    dense_part = {1: 1.0, 2: 0.0, 3: 0.5}
    lexical_part = {1: 0.0, 2: 1.0, 3: 1 / 3}
    # A sentence score is never under its paragraph's: 1 keeps 0.8; 3 (not a leader) uses its paragraph's 0.6.
    sentence_part = {1: (0.8 - 0.6) / 0.3, 2: 1.0, 3: 0.0}
    coverage = {1: 0.0, 2: 0.5, 3: 1.0}
    expected = {
        p: 0.5 * (0.5 * dense_part[p] + 0.5 * sentence_part[p]) + 0.5 * lexical_part[p] + 0.1 * coverage[p]
        for p in (1, 2, 3)
    }
    assert fused == pytest.approx(expected)
    assert order == [2, 1, 3]


def test_coverage_alone_runs_the_second_stage_and_lifts_the_passage_with_the_rare_words() -> None:
    all_lexical = keyword_scores({1: 5.0, 2: 4.0}, {1: 0.0, 2: 3.0}, total_idf=3.0)
    without, _, _ = fuse(plain(), all_lexical, {1: 0.5, 2: 0.5}, {}, dense_for=never, sentence_for=never)
    sentence_for = Lookup({})
    with_coverage, fused, _ = fuse(
        plain(coverage_weight=1.0), all_lexical, {1: 0.5, 2: 0.5}, {}, dense_for=never, sentence_for=sentence_for
    )
    assert without == [1, 2] and with_coverage == [2, 1]
    assert sentence_for.asked == [[1, 2]]
    # Its keyword share is the lowest (0) but it holds all the rare words: 0.5 * 0 + 1.0 * 1.
    assert fused[2] == pytest.approx(1.0)
