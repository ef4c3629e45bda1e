"""Highlighting the sentences that answer (qa.answer.highlight): the scorer, the pick per quote, the bounds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from fakes import FakeEmbedder

from qa.answer.highlight import HIGHLIGHT_CHARS, OVERLAP_WEIGHT, SentenceScorer, highlight, highlight_spans
from qa.answer.quotes import Quote
from qa.embed.embedder import Embedder
from qa.text.passages import Passage, text_sha256


def quote(text: str, source: str = "a.txt") -> Quote:
    passage = Passage(source, 1, 1, 1, 0, len(text), text, text_sha256(text))
    return Quote(passage=passage, score=0.5, rank=1, citation=f"{source} ¶1 (line 1)", dense_score=0.5)


class TableScorer:
    """Scores each sentence by a table (by its first word; 0 when absent) and records every call."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.calls: list[list[str]] = []

    def __call__(self, question: str, sentences: list[str]) -> np.ndarray:
        self.calls.append(list(sentences))
        return np.array([self.table.get(s.split()[0], 0.0) for s in sentences], dtype=np.float64)


class TableEmbedder(FakeEmbedder):
    """Gives each text the vector a table holds for it (zeros for texts not in it)."""

    def __init__(self, table: dict[str, Sequence[float]]) -> None:
        super().__init__(dimension=3)
        self.table = table

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return np.array([self.table.get(t, [0.0] * self.dimension) for t in texts], dtype=np.float32)


def table_scorer(table: dict[str, Sequence[float]]) -> SentenceScorer:
    """A sentence scorer over the vectors of ``table``."""
    embedder = TableEmbedder(table)
    return SentenceScorer(lambda: embedder)


# -- highlight_spans ------------------------------------------------------------------------


def test_no_spans_pick_nothing() -> None:
    assert highlight_spans([], [], bar=0.0) == ()


def test_picked_spans_come_best_first_not_in_text_order() -> None:
    spans = [(0, 5), (6, 10), (11, 15)]
    assert highlight_spans([0.6, 0.9, 0.9], spans, bar=0.5) == ((6, 10), (11, 15))
    assert highlight_spans([0.2, 0.3, 0.8], spans, bar=0.0)[0] == (11, 15)


def test_a_score_equal_to_the_bar_clears_it() -> None:
    assert highlight_spans([0.5, 0.4], [(0, 3), (4, 7)], bar=0.5) == ((0, 3),)


def test_the_default_bar_of_zero_refuses_sentences_that_score_below_it() -> None:
    assert highlight_spans([-0.2, -0.1], [(0, 3), (4, 7)]) == ()


# -- SentenceScorer -------------------------------------------------------------------------


def test_the_scorer_loads_its_model_only_on_the_first_score() -> None:
    loads: list[int] = []

    def load() -> Embedder:
        loads.append(1)
        return FakeEmbedder()

    scorer = SentenceScorer(load)
    assert loads == []
    scorer("Where is Etna?", ["Etna is in Sicily."])
    assert loads == [1]


def test_a_score_is_the_cosine_plus_the_weighted_share_of_key_words() -> None:
    question = "Which river reaches the Black Sea?"
    texts = ["The river reaches the Black Sea.", "Bread is baked at dawn.", "A river and its sea."]
    scorer = table_scorer({question: [1.0, 0.0, 0.0], texts[0]: [0.6, 0.8, 0.0], texts[1]: [0.0, 1.0, 0.0]})
    # Key words of the question: river, reach, black, sea ("which" asks, it does not count).
    # The first sentence: cosine 0.6 and all four; the second: orthogonal, none; the third: no vector, two of four.
    assert scorer(question, texts).tolist() == pytest.approx([0.6 + OVERLAP_WEIGHT, 0.0, OVERLAP_WEIGHT * 2 / 4])


def test_a_word_of_the_same_stem_family_counts_as_a_shared_key_word() -> None:
    scorer = table_scorer({})
    # "director" and "direct" share a family; "museum" is there verbatim: both key words count.
    scores = scorer("Who is the director of the museum?", ["They direct the museum.", "They sell bread."])
    assert scores.tolist() == pytest.approx([OVERLAP_WEIGHT, 0.0])


def test_a_question_without_key_words_scores_by_cosine_alone() -> None:
    question = "Who is it?"
    scorer = table_scorer({question: [1.0, 0.0, 0.0], "It is.": [0.5, 0.5, 0.0]})
    assert scorer(question, ["It is."]).tolist() == pytest.approx([0.5])


# -- highlight ------------------------------------------------------------------------------


def test_every_sentence_of_every_quote_is_scored_in_one_call() -> None:
    quotes = [quote("Alpha one. Beta two."), quote("Gamma three.", "b.txt")]
    scorer = TableScorer({"Alpha": 0.9})
    highlight("q", quotes, scorer, bar=0.0, within=1.0, most=10)
    assert scorer.calls == [["Alpha one.", "Beta two.", "Gamma three."]]


def test_highlights_are_the_best_sentence_spans_of_each_quote_and_the_rest_is_kept() -> None:
    text = "Alpha one. Beta two. Gamma three."
    [marked] = highlight("q", [quote(text)], TableScorer({"Beta": 0.9, "Gamma": 0.6}), bar=0.5, within=1.0, most=10)
    assert [text[s:e] for s, e in marked.highlights] == ["Beta two."]
    assert marked.passage == quote(text).passage and marked.score == 0.5 and marked.dense_score == 0.5


def test_a_quote_is_marked_only_within_reach_of_the_best_sentence_of_all_quotes() -> None:
    quotes = [quote("Alpha one.", "a.txt"), quote("Beta two.", "b.txt")]
    scorer = TableScorer({"Alpha": 0.9, "Beta": 0.7})
    near = highlight("q", quotes, scorer, bar=0.5, within=0.3, most=10)
    assert [q.highlights for q in near] == [((0, 10),), ((0, 9),)]
    far = highlight("q", quotes, scorer, bar=0.5, within=0.1, most=10)
    assert [q.highlights for q in far] == [((0, 10),), ()]
    # The quotes come back in the order given, each with its own text.
    assert [q.source for q in far] == ["a.txt", "b.txt"]


def test_nothing_is_marked_when_no_sentence_clears_the_bar() -> None:
    scorer = TableScorer({"Alpha": 0.4, "Beta": 0.3})
    [marked] = highlight("q", [quote("Alpha one. Beta two.")], scorer, bar=0.5, within=1.0, most=10)
    assert marked.highlights == ()


def test_only_the_first_sentences_of_a_quote_are_scored() -> None:
    text = "Alpha one. Beta two. Gamma three."
    scorer = TableScorer({"Alpha": 0.6, "Gamma": 0.9})
    [marked] = highlight("q", [quote(text)], scorer, bar=0.5, within=1.0, most=2)
    assert scorer.calls == [["Alpha one.", "Beta two."]]
    # The best-answering sentence is past the limit: it is not marked.
    assert [text[s:e] for s, e in marked.highlights] == ["Alpha one."]


def test_a_long_sentence_is_scored_on_its_start_but_marked_whole() -> None:
    text = "Alpha " + "word " * 1000 + "end."
    scorer = TableScorer({"Alpha": 0.9})
    [marked] = highlight("q", [quote(text)], scorer, bar=0.5, within=1.0, most=10)
    assert [len(s) for s in scorer.calls[0]] == [HIGHLIGHT_CHARS]
    assert marked.highlights == ((0, len(text)),)


def test_no_quotes_or_no_sentences_ask_the_scorer_nothing() -> None:
    scorer = TableScorer({})
    assert highlight("q", [], scorer, bar=0.0, within=0.1, most=10) == []
    [blank] = highlight("q", [quote("   ")], scorer, bar=0.0, within=0.1, most=10)
    assert blank.highlights == () and scorer.calls == []
