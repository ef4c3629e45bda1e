"""End to end with the real model and FAISS on the seeds: recall, abstention, verbatim quotes, the README's example."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS

import qa
from qa.eval.metrics import evaluate
from qa.eval.questions import read_questions

pytestmark = pytest.mark.model

OUT_OF_CORPUS = [
    "What is the capital of France?",
    "How do I sort a list in Python?",
    "What is the boiling point of water at sea level?",
    "Who won the 2018 FIFA World Cup?",
    "How does photosynthesis work in plants?",
    "What is the recipe for chocolate chip cookies?",
]


def test_manifest_records_the_real_model(seeds_index: qa.Index) -> None:
    manifest = seeds_index.manifest
    assert (manifest.model, manifest.dimension, manifest.passage_count) == ("all-MiniLM-L6-v2", 384, 28)


def test_dev_questions_reach_recall_at_5(seeds_index: qa.Index) -> None:
    questions = read_questions(DEV_QUESTIONS)
    report = evaluate(seeds_index, questions, k=10)
    assert report.metrics["recall@5"] == 1.0
    assert report.metrics["abstention_accuracy"] == 1.0
    assert all(len(q.ranked) >= 10 for q in report.questions)


def test_answerable_dev_questions_are_answered(seeds_index: qa.Index) -> None:
    questions = [q for q in read_questions(DEV_QUESTIONS) if q.relevant]
    answered = [seeds_index.answer(q.text).found for q in questions]
    assert sum(answered) >= len(questions) - 1


@pytest.mark.parametrize("question", OUT_OF_CORPUS)
def test_out_of_corpus_questions_abstain(seeds_index: qa.Index, question: str) -> None:
    answer = seeds_index.answer(question)
    assert not answer.found
    assert "probably not an answer" in answer.message
    assert answer.quotes, "the closest passages are still shown"


def test_every_quote_equals_its_source_slice(seeds_index: qa.Index, seeds_copy: Path) -> None:
    for question in [q.text for q in read_questions(DEV_QUESTIONS)] + OUT_OF_CORPUS[:2]:
        for quote in seeds_index.answer(question, k=5).quotes:
            raw = (seeds_copy / quote.source).read_text(encoding="utf-8")
            assert raw[quote.start_char : quote.end_char] == quote.text
            assert raw.split("\n")[quote.start_line - 1] == quote.text
            for start, end in quote.highlights:
                assert quote.text[start:end].strip()


def test_readme_api_example(seeds_index: qa.Index) -> None:
    loaded = qa.load_index(seeds_index.folder)
    hits = loaded.search("Who directs the Basra Cultural Center?", k=5)
    top = hits[0]
    assert (top.source, top.paragraph, top.start_line, top.end_line) == ("001_9dcbbab14ab930fe.txt", 3, 3, 3)
    assert "Amina Al-Tamimi" in top.text and top.score > 0
    answer = loaded.answer("Who directs the Basra Cultural Center?")
    assert answer.found and len(answer.quotes) + len(answer.more) == 5
    assert answer.quotes[0].citation == "seeds/001_9dcbbab14ab930fe.txt ¶3 (line 3)"
    start, end = answer.quotes[0].highlights[0]
    assert "director of the Basra Cultural Center" in answer.quotes[0].text[start:end]
