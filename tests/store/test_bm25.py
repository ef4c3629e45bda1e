"""BM25 keyword search: Lucene's formula by hand, a base and a delta scored on one scale, removals, coverage."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorruptError
from qa.store import bm25 as bm25_module
from qa.store.bm25 import LexicalIndex, Stats, bm25, idf
from qa.store.segments import Segment, write_segment
from qa.text.terms import tokens

#: Builds a LexicalIndex: ``make(base, delta, removed=..., live=...)``.
Make = Callable[..., LexicalIndex]

#: Lucene's BM25 parameters as the module promises them.
K1, B = 0.9, 0.75

#: Passage id -> its keyword terms (already stems: each is its own stem and no stop word).
CORPUS = {
    1: "volcano lava lava etna",
    2: "river sea",
    4: "volcano river river",
    7: "bread",
    9: "etna volcano volcano volcano island lava",
    12: "grain river port",
}


def reference(question: Sequence[str], corpus: dict[int, str]) -> dict[int, float]:
    """BM25 of every passage holding a question term, straight from the formula."""
    total = len(corpus)
    avgdl = sum(len(text.split()) for text in corpus.values()) / total
    scores: dict[int, float] = {}
    for pid, text in corpus.items():
        words = text.split()
        score = 0.0
        for term in question:
            df = sum(term in other.split() for other in corpus.values())
            tf = words.count(term)
            if tf:
                weight = math.log(1 + (total - df + 0.5) / (df + 0.5))
                score += weight * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(words) / avgdl))
        if score:
            scores[pid] = score
    return scores


def stats(corpus: dict[int, str]) -> Stats:
    lengths = [len(text.split()) for text in corpus.values()]
    return Stats(len(lengths), sum(lengths) / len(lengths) if lengths else 0.0)


@pytest.fixture
def connections() -> Iterator[list[sqlite3.Connection]]:
    opened: list[sqlite3.Connection] = []
    yield opened
    for connection in opened:
        connection.close()


@pytest.fixture
def make(tmp_path: Path, connections: list[sqlite3.Connection]) -> Make:
    """Build a :class:`LexicalIndex` over a base written to disk, a delta in memory and removed passages."""
    counter = iter(range(1000))

    def build(
        base: dict[int, str] | None,
        delta: dict[int, str],
        *,
        removed: Sequence[int] = (),
        live: Stats | None = None,
    ) -> LexicalIndex:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        connections.append(connection)
        connection.execute("CREATE TABLE lexical_terms(term TEXT PRIMARY KEY, col INTEGER NOT NULL) WITHOUT ROWID")
        segment = None
        if base is not None:
            path = tmp_path / f"lexical-{next(counter)}"
            digest, vocabulary = write_segment(path, sorted(base.items()))
            connection.executemany("INSERT INTO lexical_terms(term, col) VALUES (?, ?)", vocabulary.items())
            segment = Segment.open(path, digest)
        searched = {pid: text for pid, text in (base or {}).items() if pid not in removed} | delta
        return LexicalIndex(
            connection,
            threading.Lock(),
            segment,
            Segment.build(sorted(delta.items())),
            np.asarray(removed, dtype=np.int64),
            live or stats(searched),
        )

    return build


def as_dict(ids: np.ndarray, scores: np.ndarray) -> dict[int, float]:
    return dict(zip(ids.tolist(), scores.tolist(), strict=True))


# -- the formula --------------------------------------------------------------------------------


def test_idf_is_lucenes_and_always_positive() -> None:
    values = idf(np.array([0.0, 1.0, 6.0]), 6)
    assert values.tolist() == pytest.approx([math.log(1 + 6.5 / 0.5), math.log(1 + 5.5 / 1.5), math.log(1 + 0.5 / 6.5)])
    assert values[2] > 0 and values[0] > values[1] > values[2]


def test_one_postings_bm25_matches_the_formula_worked_by_hand() -> None:
    # tf 2 in a document of 6 terms, average length 4, idf 1.5:
    # 1.5 * 2 * 1.9 / (2 + 0.9 * (0.25 + 0.75 * 6 / 4)) = 5.7 / 3.2375
    got = bm25(np.array([2.0]), np.array([6.0]), 4.0, 1.5)
    assert got.tolist() == pytest.approx([5.7 / 3.2375])


def test_bm25_saturates_towards_idf_times_k1_plus_one() -> None:
    got = bm25(np.array([1.0, 10.0, 1e9]), np.array([3.0, 3.0, 3.0]), 3.0, 2.0)
    assert got[0] < got[1] < got[2] < 2.0 * (K1 + 1)
    assert got[2] == pytest.approx(2.0 * (K1 + 1))


def test_bm25_with_an_average_length_of_zero_stays_finite() -> None:
    got = bm25(np.array([1.0]), np.array([0.0]), 0.0, 1.0)
    assert np.isfinite(got).all() and got[0] == pytest.approx((K1 + 1) / (1 + K1 * (1 - B)))


def test_a_two_document_corpus_scores_as_worked_by_hand(make: Make) -> None:
    index = make(None, {1: "volcano lava", 2: "river"})
    # N = 2, df = 1: idf = ln(1 + 1.5 / 1.5) = ln 2; avgdl = 1.5, |d| = 2:
    # ln 2 * 1.9 / (1 + 0.9 * (0.25 + 0.75 * 2 / 1.5)) = ln 2 * 1.9 / 2.125
    ids, scores = index.top("volcano", 5)
    assert ids.tolist() == [1]
    assert scores.tolist() == pytest.approx([math.log(2) * 1.9 / 2.125])


@pytest.mark.parametrize(
    "question",
    ["volcano", "river lava", "etna volcano lava", "bread grain sea", "volcanoes erupting near rivers"],
)
def test_scores_on_a_tiny_corpus_match_the_formula(make: Make, question: str) -> None:
    index = make(None, CORPUS)
    got = as_dict(*index.top(question, 10))
    expected = reference(tokens(question), CORPUS)
    assert got.keys() == expected.keys()
    for pid, score in expected.items():
        assert got[pid] == pytest.approx(score, rel=1e-12)


def test_questions_are_stemmed_and_stop_words_left_out(make: Make) -> None:
    index = make(None, CORPUS)
    assert as_dict(*index.top("The volcanoes of the rivers", 10)) == pytest.approx(
        as_dict(*index.top("volcano river", 10))
    )


# -- a base and a delta on one scale ------------------------------------------------------------


@pytest.mark.parametrize("split", [0, 2, 4, 6])
def test_a_base_and_a_delta_score_exactly_like_one_segment(make: Make, split: int) -> None:
    ids = sorted(CORPUS)
    base = {pid: CORPUS[pid] for pid in ids[:split]}
    delta = {pid: CORPUS[pid] for pid in ids[split:]}
    whole = make(None, CORPUS)
    parts = make(base, delta)
    for question in ["volcano", "river lava etna", "bread island"]:
        expected = whole.scores(question, 10)
        got = parts.scores(question, 10)
        assert as_dict(*got.top(10)) == pytest.approx(as_dict(*expected.top(10)), rel=1e-12)
        assert got.of(ids) == pytest.approx(expected.of(ids), rel=1e-12)
        assert got.coverage(ids) == pytest.approx(expected.coverage(ids), rel=1e-12)
        assert (got.attainable, got.total_idf, got.max_idf) == pytest.approx(
            (expected.attainable, expected.total_idf, expected.max_idf)
        )


def test_a_passage_edited_since_the_base_is_scored_by_its_new_text_only(make: Make) -> None:
    base = {pid: CORPUS[pid] for pid in (1, 2, 4)}
    # Passage 4 was removed, then its new text added under a new id.
    index = make(base, {13: "bread bread"}, removed=[4])
    now = {1: CORPUS[1], 2: CORPUS[2], 13: "bread bread"}
    for question in ["volcano river", "bread"]:
        got = as_dict(*index.top(question, 10))
        assert got == pytest.approx(reference(tokens(question), now), rel=1e-12)
        assert 4 not in got


def test_passages_removed_from_the_base_are_neither_scored_nor_counted(make: Make) -> None:
    index = make(CORPUS, {}, removed=[4, 9, 999])
    left = {pid: text for pid, text in CORPUS.items() if pid not in (4, 9)}
    scores = index.scores("volcano river", 10)
    assert as_dict(*scores.top(10)) == pytest.approx(reference(["volcano", "river"], left), rel=1e-12)
    assert scores.of([4, 9]) == {4: 0.0, 9: 0.0}
    assert scores.coverage([4, 9]) == {4: 0.0, 9: 0.0}


def test_removing_every_holder_of_a_term_gives_it_the_idf_of_an_unknown_word(make: Make) -> None:
    index = make(CORPUS, {}, removed=[7])
    scores = index.scores("bread", 10)
    assert scores.top(10)[0].tolist() == [] and scores.max_idf == pytest.approx(1.0)


# -- question terms -----------------------------------------------------------------------------


def test_a_term_asked_twice_counts_twice(make: Make) -> None:
    index = make(None, CORPUS)
    once, twice = index.scores("lava", 10), index.scores("lava lava", 10)
    assert as_dict(*twice.top(10)) == pytest.approx({k: 2 * v for k, v in as_dict(*once.top(10)).items()})
    assert twice.attainable == pytest.approx(2 * once.attainable)
    # Coverage and the counts of distinct terms do not double.
    assert twice.terms == once.terms == 1 and twice.total_idf == pytest.approx(once.total_idf)


def test_attainable_is_the_ceiling_of_every_score(make: Make) -> None:
    index = make(None, CORPUS)
    scores = index.scores("volcano lava etna", 10)
    weights = idf(np.array([3.0, 2.0, 2.0]), len(CORPUS))
    assert scores.attainable == pytest.approx(float(weights.sum()) * (K1 + 1))
    assert 0 < scores.top(1)[1][0] < scores.attainable


def test_total_and_max_idf_count_a_term_no_passage_holds(make: Make) -> None:
    index = make(None, CORPUS)
    n = len(CORPUS)
    scores = index.scores("volcano xylophone", 10)
    known, unknown = idf(np.array([3.0, 0.0]), n).tolist()
    assert scores.terms == 2
    assert scores.total_idf == pytest.approx(known**2 + unknown**2)
    assert scores.max_idf == pytest.approx(1.0)
    common = index.scores("volcano", 10)
    assert common.max_idf == pytest.approx(known / unknown)


def test_coverage_is_the_share_of_squared_idf_each_passage_holds(make: Make) -> None:
    index = make(None, CORPUS)
    n = len(CORPUS)
    volcano, bread, nowhere = idf(np.array([3.0, 1.0, 0.0]), n).tolist()
    total = volcano**2 + bread**2 + nowhere**2
    scores = index.scores("volcano bread zzyzx", 10)
    assert scores.coverage([1, 7, 2, 500]) == pytest.approx(
        {1: volcano**2 / total, 7: bread**2 / total, 2: 0.0, 500: 0.0}
    )


def test_coverage_of_every_term_but_one_unknown_stays_below_one(make: Make) -> None:
    index = make(None, CORPUS)
    full = index.scores("volcano lava", 10).coverage([1])[1]
    partial = index.scores("volcano lava quixotic", 10).coverage([1])[1]
    assert full == pytest.approx(1.0) and 0 < partial < 1


# -- ranking ------------------------------------------------------------------------------------


def test_the_best_come_first_and_ties_go_to_the_lower_passage_id(make: Make) -> None:
    index = make({5: "etna sea", 3: "etna sea"}, {8: "etna sea", 6: "sea"})
    ids, scores = index.top("etna", 10)
    assert ids.tolist() == [3, 5, 8] and len(set(scores.tolist())) == 1
    ids, _ = index.top("etna", 2)
    assert ids.tolist() == [3, 5]


def test_only_passages_holding_a_term_are_returned_however_large_the_limit(make: Make) -> None:
    index = make(None, CORPUS)
    ids, scores = index.top("bread", 100)
    assert ids.tolist() == [7] and scores[0] > 0
    assert ids.dtype == np.int64 and scores.dtype == np.float64


def test_the_limit_keeps_the_best_across_both_segments(make: Make) -> None:
    base = {pid: CORPUS[pid] for pid in (1, 2, 4)}
    delta = {pid: CORPUS[pid] for pid in (7, 9, 12)}
    index = make(base, delta)
    expected = sorted(reference(["volcano"], CORPUS).items(), key=lambda pair: (-pair[1], pair[0]))
    for limit in (1, 2, 3):
        ids, scores = index.top("volcano", limit)
        assert ids.tolist() == [pid for pid, _ in expected[:limit]]
        assert np.all(np.diff(scores) <= 0)


def test_within_limits_who_competes_but_not_the_scores(make: Make) -> None:
    index = make({pid: CORPUS[pid] for pid in (1, 2, 4)}, {pid: CORPUS[pid] for pid in (7, 9, 12)})
    everyone = as_dict(*index.top("volcano river", 10))
    chosen = as_dict(*index.top("volcano river", 10, within=np.array([2, 9, 12], dtype=np.int64)))
    assert set(chosen) == {2, 9, 12}
    assert chosen == pytest.approx({pid: everyone[pid] for pid in chosen}, rel=1e-12)
    assert as_dict(*index.top("volcano river", 1, within=np.array([4], dtype=np.int64))) == pytest.approx(
        {4: everyone[4]}
    )


def test_within_of_passages_without_the_terms_finds_nothing(make: Make) -> None:
    index = make(None, CORPUS)
    assert index.top("bread", 10, within=np.array([1, 2, 3], dtype=np.int64))[0].tolist() == []
    assert index.top("bread", 10, within=np.array([], dtype=np.int64))[0].tolist() == []


@pytest.mark.parametrize(
    ("question", "limit"),
    [("", 5), ("the and of", 5), ("volcano", 0), ("volcano", -3)],
    ids=["empty", "stop-words", "zero", "negative"],
)
def test_nothing_to_score_is_an_empty_result_not_an_error(make: Make, question: str, limit: int) -> None:
    index = make(CORPUS, {13: "volcano"})
    scores = index.scores(question, limit)
    ids, values = scores.top(5)
    assert ids.tolist() == [] and values.tolist() == []
    assert scores.of([1, 13]) == {1: 0.0, 13: 0.0} and scores.coverage([1]) == {1: 0.0}
    assert (scores.attainable, scores.total_idf, scores.max_idf, scores.terms) == (0.0, 0.0, 0.0, 0)


def test_an_empty_index_scores_nothing(make: Make) -> None:
    index = make(None, {})
    assert index.top("volcano", 5)[0].tolist() == []
    assert make({}, {}).top("volcano", 5)[0].tolist() == []


def test_scores_stay_positive_when_more_passages_hold_a_term_than_the_stats_count(make: Make) -> None:
    index = make(None, CORPUS, live=Stats(documents=1, avgdl=3.0))
    _, scores = index.top("volcano", 10)
    assert len(scores) == 3 and np.all(np.isfinite(scores)) and np.all(scores > 0)


def test_of_reads_each_passages_score_from_either_segment(make: Make) -> None:
    index = make({pid: CORPUS[pid] for pid in (1, 2, 4)}, {pid: CORPUS[pid] for pid in (7, 9, 12)})
    scores = index.scores("volcano", 1)
    expected = reference(["volcano"], CORPUS)
    # Every passage's score, not only those among the best kept.
    assert scores.of([1, 4, 9, 7, 3]) == pytest.approx({1: expected[1], 4: expected[4], 9: expected[9], 7: 0, 3: 0})


# -- a term list that disagrees with the base ---------------------------------------------------


@pytest.mark.parametrize("column", [-1, 9, 10**6, "lava", 1.5], ids=repr)
def test_a_term_list_naming_a_column_the_base_lacks_is_corrupt(
    make: Make, connections: list[sqlite3.Connection], column: object
) -> None:
    index = make(CORPUS, {})
    assert index.base is not None and index.base.terms == 9
    connections[-1].execute("UPDATE lexical_terms SET col = ? WHERE term = 'volcano'", (column,))
    with pytest.raises(IndexCorruptError, match=r"does not match the term list .*'volcano'.*qa index"):
        index.scores("volcano", 5)


def test_terms_the_base_never_saw_score_only_in_the_delta(make: Make) -> None:
    index = make({1: "volcano"}, {2: "volcano lava"})
    assert index.top("lava", 5)[0].tolist() == [2]
    assert index.top("volcano", 5)[0].tolist() == [1, 2]


def test_ties_cut_by_the_limit_go_to_the_lowest_passage_ids_as_in_the_final_order(make: Make) -> None:
    # Each segment keeps its ``limit`` best before the (score, passage id) order is applied: ties at
    # the cut must already go to the lowest ids, or a base/delta split ranks unlike one segment.
    same = {pid: "etna sea" for pid in range(1, 1001)}
    whole = make(None, same)
    split = make({pid: same[pid] for pid in range(1, 501)}, {pid: same[pid] for pid in range(501, 1001)})
    assert whole.top("etna", 3)[0].tolist() == [1, 2, 3]
    assert split.top("etna", 3)[0].tolist() == whole.top("etna", 3)[0].tolist()


def test_a_nan_score_ranks_last_at_the_cut_instead_of_emptying_it() -> None:
    from qa.store.bm25 import _best

    rows = np.arange(4)
    kept = _best(rows, np.array([1.0, np.nan, 2.0, np.nan]), ids=rows, limit=2)
    assert sorted(kept.tolist()) == [0, 2]
    assert len(_best(rows, np.array([np.nan, np.nan, 1.0, np.nan]), ids=rows, limit=2)) == 2


def test_rare_terms_list_their_passages_across_base_and_delta_without_removed_ones(make: Make) -> None:
    # Segments hold terms as the tokenizer writes them (stems): "key", not "keys".
    base = {1: "kelso harbour", 2: "kelso mill", 3: "harbour key"}
    index = make(base, {7: "kelso key"}, removed=[2])
    found = index.scores("kelso keys volcano", 5)
    rare = {term.term: sorted(term.passage_ids.tolist()) for term in found.rare}
    assert rare == {"kelso": [1, 7], "key": [3, 7]}
    assert found.frequency == {"kelso": 2, "key": 2, "volcano": 0}
    assert all(term.idf > 0 for term in found.rare)


def test_a_term_in_too_many_passages_is_not_listed_as_rare(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_module, "RARE_TERM_PASSAGES", 1)
    found = make({1: "kelso harbour", 2: "kelso mill"}, {}).scores("kelso mill", 5)
    assert [term.term for term in found.rare] == ["mill"]
    assert found.frequency["kelso"] == 2
