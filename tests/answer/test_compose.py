"""Answers with the fake embedder: abstention, quotes checked on disk and relocated, the cut, highlights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import write_corpus
from fakes import FakeEmbedder

import qa


def test_answer_quotes_verbatim_with_citation(fake_index: qa.Index, corpus: Path) -> None:
    answer = fake_index.answer("When did the Corner Bakery open and what bread is it famous for?")
    assert answer.found
    top = answer.quotes[0]
    assert (top.source, top.paragraph, top.start_line, top.end_line) == ("bakery.md", 1, 3, 3)
    assert top.citation.endswith("bakery.md ¶1 (line 3)")
    text = (corpus / top.source).read_text(encoding="utf-8")
    assert text[top.start_char : top.end_char] == top.text
    # Five passages ranked: those that clear the relevance cut are quotes, the rest "more".
    assert len(answer.quotes) + len(answer.more) == 5 and answer.quotes
    assert [q.score for q in (*answer.quotes, *answer.more)] == sorted(
        (q.score for q in (*answer.quotes, *answer.more)), reverse=True
    )
    data = answer.to_dict()
    assert len(data["quotes"]) == len(answer.quotes) and len(data["more"]) == len(answer.more)
    assert set(data["more"][0]) == set(data["quotes"][0])


def test_nothing_relevant_abstains_but_shows_closest(fake_index: qa.Index) -> None:
    answer = fake_index.answer("quantum chromodynamics lattice gauge")
    assert not answer.found
    assert "No passage" in answer.message and "probably not an answer" in answer.message
    assert answer.quotes and answer.best_score is not None and answer.best_score < 0.2


def test_weak_match_is_answered_with_a_caveat(corpus: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    settings = qa.Settings(threshold=0.05, confident=0.99)
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake, settings=settings)
    answer = index.answer("Etna Observatory gas emissions")
    assert answer.found and not answer.confident
    assert answer.message.startswith("Weak match")
    assert answer.to_dict()["confident"] is False
    strong = qa.load_index(tmp_path / "i", embedder=fake, settings=qa.Settings(threshold=0.05, confident=0.1))
    assert strong.answer("Etna Observatory gas emissions").confident


def test_lexical_retriever_abstains_when_no_word_matches(fake_index: qa.Index) -> None:
    assert not fake_index.answer("xylophone zeppelin", retriever="lexical").found
    assert fake_index.answer("sourdough", retriever="lexical").found


def test_highlights_point_into_the_quote(fake_index: qa.Index) -> None:
    answer = fake_index.answer("Mount Etna active volcano Sicily", k=2)
    top = answer.quotes[0]
    assert top.highlights
    start, end = top.highlights[0]
    assert 0 <= start < end <= len(top.text)
    assert top.text[start:end] == "Mount Etna is an active volcano on the east coast of Sicily."


def test_answer_json_shape(fake_index: qa.Index) -> None:
    data = fake_index.answer("sourdough").to_dict()
    assert set(data) >= {"question", "found", "quotes"}
    assert set(data["quotes"][0]) >= {"source", "paragraph", "start_line", "end_line", "text", "score", "highlights"}


def test_huge_paragraph_answers_with_bounded_highlighting(tmp_path: Path, fake: FakeEmbedder) -> None:
    from qa.answer import highlight
    from qa.ingest.readers.bounds import MAX_PARAGRAPH_CHARS

    corpus = write_corpus(
        tmp_path / "corpus",
        {"huge.txt": " ".join(f"Sentence {n} is about the harbour crane." for n in range(4000))},
    )
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=-1))
    scored: list[int] = []
    original = index.answerer.scorer

    def counting(question: str, sentences: list[str]) -> np.ndarray:
        scored.append(len(sentences))
        assert all(len(s) <= highlight.HIGHLIGHT_CHARS for s in sentences)
        return original(question, sentences)

    index.answerer.scorer = counting
    answer = index.answer("harbour crane")
    # The 160,000-character paragraph is quoted a piece at a time (qa/ingest/readers/bounds.py),
    # each piece of paragraph 1 still far more sentences than are scored.
    quoted = answer.quotes[0].passage
    assert quoted.paragraph == 1 and 150 * 41 < len(quoted.text) <= MAX_PARAGRAPH_CHARS
    # About 195 sentences in each piece quoted; at most highlight_sentences of each are scored.
    assert all(quote.passage.paragraph == 1 for quote in answer.quotes)
    assert scored == [index.settings.highlight_sentences * len(answer.quotes)]
    fewer = qa.load_index(tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=-1, highlight_sentences=5))
    fewer.answerer.scorer = counting
    scored.clear()
    again = fewer.answer("harbour crane")
    assert scored == [5 * len(again.quotes)]
