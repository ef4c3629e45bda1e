"""A ranking's evidence for abstention (qa.search.evidence.evidence_of), from hand-made hits and scores."""

from __future__ import annotations

import numpy as np
import pytest

from qa.search.duplicates import collapse
from qa.search.evidence import EVIDENCE_HITS, evidence_of
from qa.search.hits import Hit
from qa.store.bm25 import LexicalScores
from qa.store.segments import Segment
from qa.store.snapshot import Candidate
from qa.text.passages import Passage, text_sha256
from qa.text.sketch import signature


def hit(pid: int, dense: float | None = None, rank: int = 1) -> Hit:
    passage = Passage(f"{pid}.txt", 1, 1, 1, 0, 1, "x", "0" * 64)
    return Hit(passage, 1.0, rank, f"{pid}.txt ¶1 (line 1)", dense_score=dense, passage_id=pid)


def keyword_scores(
    scores: dict[int, float],
    covered: dict[int, float] | None = None,
    *,
    attainable: float = 10.0,
    total_idf: float = 1.0,
    max_idf: float = 0.6,
    terms: int = 4,
) -> LexicalScores:
    """BM25 scores (and squared-IDF mass covered) of every passage for one question, by passage id."""
    ids = sorted(scores)
    segment = Segment.build((pid, "word") for pid in ids)
    summed = np.array([scores[p] for p in ids], dtype=np.float64)
    mass = np.array([(covered or {}).get(p, 0.0) for p in ids], dtype=np.float64)
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return LexicalScores(
        ordered, [(segment, summed, mass)], attainable=attainable, total_idf=total_idf, max_idf=max_idf, terms=terms
    )


NO_KEYWORDS = keyword_scores({1: 0.0, 2: 0.0, 3: 0.0})


def test_no_hits_is_no_evidence() -> None:
    assert evidence_of([], {1: 0.9}, {1: 0.9}, NO_KEYWORDS) is None


def test_the_best_cosine_is_over_every_passage_searched_not_only_the_hits() -> None:
    found = evidence_of([hit(1, 0.7)], {1: 0.7, 2: 0.8, 3: 0.1}, {}, NO_KEYWORDS)
    assert found is not None and found.best_cosine == 0.8


def test_the_margin_is_between_the_two_best_distinct_hits_not_a_folded_copy() -> None:
    # Passage 2 is a copy of 1, folded into its hit: it is no rival.
    dense = {1: 0.9, 2: 0.9, 3: 0.6}
    found = evidence_of([hit(1, 0.9), hit(3, 0.6, rank=2)], dense, {}, NO_KEYWORDS)
    assert found is not None and found.margin == pytest.approx(0.3)


def test_with_a_single_hit_the_margin_is_to_the_next_passage_searched() -> None:
    found = evidence_of([hit(1, 0.9)], {1: 0.9, 2: 0.75, 3: 0.1}, {}, NO_KEYWORDS)
    assert found is not None and found.margin == pytest.approx(0.15)
    alone = evidence_of([hit(1, 0.9)], {1: 0.9}, {}, NO_KEYWORDS)
    assert alone is not None and alone.margin == 0.0


def test_hits_without_cosines_take_the_margin_from_the_passages_searched() -> None:
    found = evidence_of([hit(1), hit(2, rank=2)], {1: 0.8, 2: 0.5}, {}, NO_KEYWORDS)
    assert found is not None and found.margin == pytest.approx(0.3)


def test_without_vector_search_there_is_no_cosine_margin_or_sentence() -> None:
    found = evidence_of([hit(1), hit(2, rank=2)], {}, {}, keyword_scores({1: 4.0, 2: 2.0}))
    assert found is not None
    assert (found.best_cosine, found.margin, found.sentence_cosine) == (None, None, None)
    assert found.lexical == pytest.approx(0.4)


def test_the_sentence_cosine_is_the_best_sentence_or_the_best_paragraph_if_higher() -> None:
    dense = {1: 0.6, 2: 0.5}
    better = evidence_of([hit(1, 0.6)], dense, {1: 0.55, 2: 0.8}, NO_KEYWORDS)
    assert better is not None and better.sentence_cosine == 0.8
    # A passage of one sentence has no sentence cosine of its own: its paragraph's stands in.
    worse = evidence_of([hit(1, 0.6)], dense, {1: 0.4}, NO_KEYWORDS)
    assert worse is not None and worse.sentence_cosine == 0.6
    none_stored = evidence_of([hit(1, 0.6)], dense, {}, NO_KEYWORDS)
    assert none_stored is not None and none_stored.sentence_cosine == 0.6


def test_the_keyword_share_is_the_best_leading_hit_over_what_the_question_could_score_at_most_one() -> None:
    hits = [hit(1, rank=1), hit(2, rank=2)]
    found = evidence_of(hits, {}, {}, keyword_scores({1: 3.0, 2: 5.0}, attainable=10.0))
    assert found is not None and found.lexical == pytest.approx(0.5)
    capped = evidence_of(hits, {}, {}, keyword_scores({1: 3.0, 2: 25.0}, attainable=10.0))
    assert capped is not None and capped.lexical == 1.0


def test_a_question_that_could_score_nothing_has_a_keyword_share_of_zero() -> None:
    found = evidence_of([hit(1)], {}, {}, keyword_scores({1: 3.0}, attainable=0.0))
    assert found is not None and found.lexical == 0.0


def test_only_the_leading_hits_speak_for_keywords_and_coverage() -> None:
    hits = [hit(pid, rank=pid) for pid in range(1, EVIDENCE_HITS + 2)]
    last = EVIDENCE_HITS + 1
    scores = {pid: 1.0 for pid in range(1, last)} | {last: 9.0}
    covered = {pid: 0.2 for pid in range(1, last)} | {last: 1.0}
    found = evidence_of(hits, {}, {}, keyword_scores(scores, covered, attainable=10.0, total_idf=1.0))
    # The hit past the leading ones holds every rare word and scores best: it does not count.
    assert found is not None and found.lexical == pytest.approx(0.1) and found.coverage == pytest.approx(0.2)


def test_coverage_is_the_largest_share_of_the_rare_word_mass_one_leading_hit_holds() -> None:
    lexical = keyword_scores({1: 1.0, 2: 1.0}, {1: 0.5, 2: 1.5}, total_idf=2.0, max_idf=0.9, terms=6)
    found = evidence_of([hit(1), hit(2, rank=2)], {}, {}, lexical)
    assert found is not None and found.coverage == pytest.approx(0.75)
    # How rare the rarest word is and how many words the question has come from the keyword scores as they are.
    assert (found.max_idf, found.terms) == (0.9, 6)


# -- the single-hit fallback leaves out the hit's own folded copy ---------------------------------


def test_with_one_hit_asked_for_the_margin_still_leaves_out_the_hits_folded_copy() -> None:
    # With fewer than two distinct hits the margin falls back to the cosines searched: those of
    # copies folded into the hit must not count, or the margin is 0 and depends on k.
    text = "The Danube flows through Vienna and Budapest before it reaches the Black Sea."
    other = "Bakers in the old town sell rye bread every morning."
    vector = np.array([1.0, 0.0], dtype=np.float32)
    found = {
        pid: Candidate(Passage(f"{pid}.txt", 1, 1, 1, 0, len(body), body, text_sha256(body)), v, signature(body))
        for pid, body, v in [(1, text, vector), (2, text, vector), (3, other, np.array([0.0, 1.0], np.float32))]
    }
    dense = {1: 0.9, 2: 0.9, 3: 0.6}

    def margin(k: int) -> float | None:
        hits = collapse(
            [1, 2, 3], dense, dense, {}, k, candidates=lambda ids: {p: found[p] for p in ids}, threshold=0.8, label=""
        )
        assert hits[0].duplicates == (found[2].passage,), "passage 2 is folded into the first hit"
        evidence = evidence_of(hits, dense, {}, NO_KEYWORDS)
        return None if evidence is None else evidence.margin

    assert margin(2) == pytest.approx(0.3)
    assert margin(1) == pytest.approx(0.3)


def test_the_standout_is_the_best_cosine_in_standard_deviations_above_the_candidates_mean() -> None:
    dense = {1: 0.9, 2: 0.5, 3: 0.4, 4: 0.2}
    found = evidence_of([hit(1, 0.9)], dense, {}, NO_KEYWORDS)
    values = np.array(list(dense.values()))
    assert found is not None and found.standout == pytest.approx((0.9 - values.mean()) / values.std())
    # Too few candidates to speak of a spread, or identical cosines: they stand out by nothing
    # (a number all the same: a one-paragraph corpus must still be judged).
    few = evidence_of([hit(1, 0.9)], {1: 0.9, 2: 0.5}, {}, NO_KEYWORDS)
    assert few is not None and few.standout == 0.0
    flat = evidence_of([hit(1, 0.5)], {1: 0.5, 2: 0.5, 3: 0.5}, {}, NO_KEYWORDS)
    assert flat is not None and flat.standout == 0.0


def test_agreement_is_one_over_the_first_hits_place_by_cosine() -> None:
    dense = {1: 0.6, 2: 0.8, 3: 0.7}
    first_is_third = evidence_of([hit(1, 0.6), hit(2, 0.8, rank=2)], dense, {}, NO_KEYWORDS)
    assert first_is_third is not None and first_is_third.agreement == pytest.approx(1 / 3)
    closest = evidence_of([hit(2, 0.8)], dense, {}, NO_KEYWORDS)
    assert closest is not None and closest.agreement == 1.0
    # A first hit found by keywords alone has no cosine: it agrees with nothing.
    keyword_only = evidence_of([hit(9)], dense, {}, NO_KEYWORDS)
    assert keyword_only is not None and keyword_only.agreement == 0.0
    lexical = evidence_of([hit(1)], {}, {}, keyword_scores({1: 4.0}))
    assert lexical is not None and (lexical.standout, lexical.agreement) == (None, None)
