"""Folding near-duplicates (qa.search.duplicates.collapse) with hand-made candidates: vectors, sketches, hashes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qa.search.duplicates import collapse
from qa.store.snapshot import Candidate
from qa.text.passages import Passage, text_sha256
from qa.text.sketch import SIGNATURE_SIZE, signature

JACCARD = 0.8


def unit(degrees: float) -> np.ndarray:
    """A unit vector in the plane at ``degrees`` from the first axis (cosine of two: cos of the angle between)."""
    radians = math.radians(degrees)
    return np.array([math.cos(radians), math.sin(radians), 0.0], dtype=np.float32)


def candidate(source: str, text: str, vector: np.ndarray, sketch: bytes | None = None) -> Candidate:
    passage = Passage(source, 1, 1, 1, 0, len(text), text, text_sha256(text))
    return Candidate(passage, vector, signature(text) if sketch is None else sketch)


def sketch(*values: tuple[int, int]) -> bytes:
    """A signature of ``(value, count)`` runs, for exact control of the estimated Jaccard similarity."""
    parts = [np.full(count, value, dtype=np.uint32) for value, count in values]
    joined = np.concatenate(parts)
    assert len(joined) == SIGNATURE_SIZE
    return joined.tobytes()


class Store:
    """Hands out candidates by id, as a snapshot does, and records each block asked for."""

    def __init__(self, found: dict[int, Candidate]) -> None:
        self.found = found
        self.blocks: list[list[int]] = []

    def __call__(self, ids: Sequence[int]) -> dict[int, Candidate]:
        self.blocks.append(list(ids))
        return {pid: self.found[pid] for pid in ids if pid in self.found}


def fold(
    store: Store, order: Sequence[int], k: int, *, threshold: float = JACCARD, label: str = "seeds"
) -> list[tuple[str, tuple[str, ...]]]:
    """Collapse ``order`` with unit scores; each hit as ``(source, sources folded into it)``."""
    hits = collapse(
        order,
        dict.fromkeys(order, 1.0),
        {},
        {},
        k,
        candidates=store,
        threshold=threshold,
        label=label,
    )
    return [(h.source, tuple(p.source for p in h.duplicates)) for h in hits]


TEXT = "The harbour authority approved a new breakwater to protect fishing boats from winter storms."
OTHER = "Bakers in the old town sell rye bread and sourdough loaves every morning before dawn."


def test_distinct_passages_come_back_ranked_with_their_scores_and_citations() -> None:
    store = Store({7: candidate("a.txt", TEXT, unit(0)), 3: candidate("b.txt", OTHER, unit(90))})
    hits = collapse(
        [7, 3],
        {7: 0.9, 3: 0.4},
        {7: 0.8},
        {3: 2.5},
        5,
        candidates=store,
        threshold=JACCARD,
        label="seeds/",
    )
    assert [(h.source, h.rank, h.score, h.passage_id) for h in hits] == [("a.txt", 1, 0.9, 7), ("b.txt", 2, 0.4, 3)]
    assert [h.citation for h in hits] == ["seeds/a.txt ¶1 (line 1)", "seeds/b.txt ¶1 (line 1)"]
    # Each retriever's score where it ran, None where it did not.
    assert [(h.dense_score, h.lexical_score) for h in hits] == [(0.8, None), (None, 2.5)]
    assert all(h.also_in == () and h.duplicates == () for h in hits)


def test_close_vectors_with_the_same_words_fold_into_the_first_copy_ranked() -> None:
    # The same words with other punctuation and case: another hash, the same trigrams.
    copy = TEXT.upper().replace(".", "!")
    store = Store({1: candidate("a.txt", TEXT, unit(0)), 2: candidate("b.txt", OTHER, unit(90))})
    store.found[3] = candidate("c.txt", copy, unit(5))
    hits = collapse([1, 2, 3], dict.fromkeys([1, 2, 3], 1.0), {}, {}, 3, candidates=store, threshold=JACCARD, label="")
    assert [h.source for h in hits] == ["a.txt", "b.txt"]
    assert hits[0].also_in == ("c.txt ¶1 (line 1)",) and hits[0].duplicates == (store.found[3].passage,)


def test_close_vectors_with_other_words_are_not_twins() -> None:
    paraphrase = "Fishing boats will be sheltered from winter gales by the breakwater the harbour approved."
    store = Store({1: candidate("a.txt", TEXT, unit(0)), 2: candidate("b.txt", paraphrase, unit(2))})
    assert fold(store, [1, 2], 5) == [("a.txt", ()), ("b.txt", ())]


def test_the_same_words_with_distant_vectors_are_not_twins() -> None:
    copy = TEXT.upper()
    # cos 30 degrees = 0.87: under the cosine at which paragraphs are compared word by word.
    store = Store({1: candidate("a.txt", TEXT, unit(0)), 2: candidate("b.txt", copy, unit(30))})
    assert fold(store, [1, 2], 5) == [("a.txt", ()), ("b.txt", ())]


def test_the_same_text_folds_whatever_its_vectors_and_sketch() -> None:
    store = Store(
        {
            1: candidate("a.txt", TEXT, unit(0), sketch((1, 64))),
            2: candidate("b.txt", TEXT, unit(90), sketch((2, 64))),
        }
    )
    assert fold(store, [1, 2], 5) == [("a.txt", ("b.txt",))]


def test_the_word_test_counts_a_similarity_equal_to_the_threshold_as_a_twin() -> None:
    base = sketch((1, 64))
    half = sketch((1, 32), (2, 32))
    under = sketch((1, 31), (2, 33))
    store = Store(
        {
            1: candidate("a.txt", TEXT, unit(0), base),
            2: candidate("b.txt", OTHER, unit(1), half),
            3: candidate("c.txt", OTHER + " More.", unit(1), under),
        }
    )
    assert fold(store, [1, 2, 3], 5, threshold=0.5) == [("a.txt", ("b.txt",)), ("c.txt", ())]


def test_a_twin_of_two_hits_folds_into_the_first_ranked() -> None:
    # a and b are 40 degrees apart (not twins); c is 20 degrees from each and shares enough words with each.
    store = Store(
        {
            1: candidate("a.txt", TEXT, unit(0), sketch((1, 64))),
            2: candidate("b.txt", OTHER, unit(40), sketch((1, 20), (2, 44))),
            3: candidate("c.txt", TEXT + " Again.", unit(20), sketch((1, 40), (2, 24))),
        }
    )
    assert fold(store, [1, 2, 3], 5, threshold=0.5) == [("a.txt", ("c.txt",)), ("b.txt", ())]
    # Ranked the other way round, the copy goes to b.
    assert fold(store, [2, 1, 3], 5, threshold=0.5) == [("b.txt", ("c.txt",)), ("a.txt", ())]


def test_passages_the_store_no_longer_has_are_skipped_and_ranks_stay_contiguous() -> None:
    store = Store({1: candidate("a.txt", TEXT, unit(0)), 4: candidate("b.txt", OTHER, unit(90))})
    hits = collapse(
        [9, 1, 8, 4], dict.fromkeys([9, 1, 8, 4], 1.0), {}, {}, 5, candidates=store, threshold=JACCARD, label=""
    )
    assert [(h.source, h.rank) for h in hits] == [("a.txt", 1), ("b.txt", 2)]


def test_at_most_k_hits_and_a_copy_ranked_just_after_the_kth_still_folds() -> None:
    copy = TEXT.upper()
    store = Store(
        {
            1: candidate("a.txt", TEXT, unit(0)),
            2: candidate("b.txt", OTHER, unit(90)),
            3: candidate("c.txt", copy, unit(3)),
        }
    )
    assert fold(store, [1, 2, 3], 1) == [("a.txt", ("c.txt",))]


def test_candidates_are_read_only_as_far_as_the_walk_goes() -> None:
    store = Store(
        {pid: candidate(f"{pid}.txt", f"Passage number {pid} is unique.", unit(pid % 90)) for pid in range(1000)}
    )
    hits = fold(store, list(range(1000)), 2)
    assert len(hits) == 2
    read = [pid for block in store.blocks for pid in block]
    assert len(read) == len(set(read)), "no candidate is read twice"
    assert len(read) < 100


def test_the_walk_reads_further_blocks_when_the_first_yields_too_few_hits() -> None:
    # The first 60 ranked passages are gone from the store: the hits come from later blocks.
    store = Store(
        {pid: candidate(f"{pid}.txt", f"Passage number {pid} is unique.", unit(pid - 60)) for pid in (60, 61)}
    )
    assert [source for source, _ in fold(store, list(range(80)), 2)] == ["60.txt", "61.txt"]
    read = [pid for block in store.blocks for pid in block]
    assert len(store.blocks) > 1 and read == sorted(set(read))


def test_a_copy_read_in_a_later_block_folds_into_a_hit_of_an_earlier_one() -> None:
    store = Store({0: candidate("a.txt", TEXT, unit(0)), 70: candidate("copy.txt", TEXT.upper(), unit(2))})
    assert fold(store, list(range(80)), 5) == [("a.txt", ("copy.txt",))]
    assert len(store.blocks) > 1
