"""Saved chat turns: JSON and back, every field the page shows, and damaged or foreign text refused."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTICLES, write_corpus
from fakes import FakeEmbedder

import qa
from qa.web.conversation import Turn
from qa.web.saved import LAYOUT, turn_from_json, turn_to_json


def answered_turn(index: qa.Index, question: str, **fields: Any) -> Turn:
    answer = index.answer(question)
    return Turn(
        id=7,
        question=question,
        searched=answer.searched,
        answer=answer,
        asked=1_700_000_000.25,
        indexed=tuple((q.source, q.file_sha256) for q in answer.quotes),
        **fields,
    )


def assert_round_trip(turn: Turn) -> Turn:
    back = turn_from_json(turn_to_json(turn))
    assert back == turn
    # Fields left out of ==  (passage ids) come back too.
    assert asdict(back) == asdict(turn)
    return back


@pytest.fixture
def duplicated_index(tmp_path: Path, fake: FakeEmbedder) -> qa.Index:
    """The small corpus with bakery.md copied, so that quotes have ``also_in`` and duplicates."""
    files = {**ARTICLES, "copy/bakery.md": ARTICLES["bakery.md"]}
    corpus = write_corpus(tmp_path / "dup", files)
    return qa.build_index(corpus, tmp_path / "dup-index", embedder=fake, settings=qa.Settings(threshold=0.2))


def test_turn_with_an_answer_round_trips(fake_index: qa.Index) -> None:
    turn = answered_turn(fake_index, "Who owns the Corner Bakery?")
    assert turn.answer is not None and turn.answer.quotes and turn.answer.more
    assert any(q.highlights for q in turn.answer.quotes)
    back = assert_round_trip(turn)
    assert back.answer is not None
    assert back.answer.quotes[0].highlights == turn.answer.quotes[0].highlights
    assert back.answer.quotes[0].file_sha256 == turn.answer.quotes[0].file_sha256 != ""
    assert back.indexed == turn.indexed


def test_turn_with_duplicates_and_sources_round_trips(duplicated_index: qa.Index) -> None:
    turn = answered_turn(
        duplicated_index, "When did the Corner Bakery open?", sources=("bakery.md", "copy"), literal=True
    )
    assert turn.answer is not None
    quote = turn.answer.quotes[0]
    assert quote.also_in and quote.duplicates
    back = assert_round_trip(turn)
    assert back.sources == ("bakery.md", "copy")
    assert back.literal is True
    assert back.answer is not None and back.answer.quotes[0].duplicates == quote.duplicates


def test_turn_quoting_a_pdf_keeps_pages_and_sections(mixed: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=0.0))
    turn = answered_turn(index, "When was the Kettle Point lighthouse built?")
    assert turn.answer is not None
    passages = [q.passage for q in turn.quotes()]
    assert any(p.page is not None for p in passages)
    back = assert_round_trip(turn)
    assert [q.passage for q in back.quotes()] == passages


def test_unanswered_question_round_trips(fake_index: qa.Index) -> None:
    turn = answered_turn(fake_index, "quantum chromodynamics of gluons")
    assert turn.answer is not None and not turn.answer.found
    assert_round_trip(turn)


def test_answer_with_warnings_and_no_scores_round_trips(fake_index: qa.Index) -> None:
    turn = answered_turn(fake_index, "Where is Mount Etna?")
    assert turn.answer is not None
    answer = replace(turn.answer, warnings=("volcano.txt changed since indexing",), best_score=None, confidence=None)
    assert_round_trip(replace(turn, answer=answer))


def test_pending_turn_round_trips() -> None:
    turn = Turn(id=3, question="Where is Mount Etna?", searched="Where is Mount Etna?", asked=12.5)
    assert turn.pending
    back = assert_round_trip(turn)
    assert back.pending and back.answer is None


def test_failed_turn_round_trips() -> None:
    turn = Turn(id=0, question="??", error="The question is empty once punctuation is removed.")
    back = assert_round_trip(turn)
    assert not back.pending


def test_text_outside_ascii_is_kept_as_written(fake_index: qa.Index) -> None:
    turn = answered_turn(fake_index, "Qui possède la boulangerie « Corner » ? 面包店")
    text = turn_to_json(turn)
    assert "面包店" in text and "«" in text
    assert json.loads(text)["layout"] == LAYOUT
    assert_round_trip(turn)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{",
        "[]",
        "null",
        '"a turn"',
        "42",
        "{}",
        '{"layout": 1}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_damaged_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        turn_from_json(text)


def test_turn_of_another_layout_is_refused(fake_index: qa.Index) -> None:
    data = json.loads(turn_to_json(answered_turn(fake_index, "Where is Mount Etna?")))
    for layout in (LAYOUT + 1, LAYOUT - 1, None, str(LAYOUT), True):
        data["layout"] = layout
        with pytest.raises(ValueError, match="not a turn of this version"):
            turn_from_json(json.dumps(data))
    del data["layout"]
    with pytest.raises(ValueError):
        turn_from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("id",), "7"),
        (("id",), True),
        (("id",), 7.5),
        (("question",), None),
        (("question",), 3),
        (("asked",), None),
        (("sources",), [1, 2]),
        (("indexed",), [[1, "abc"]]),
        (("answer",), []),
        (("answer", "quotes"), None),
        (("answer", "quotes", 0, "rank"), "1"),
        (("answer", "quotes", 0, "passage", "text"), 5),
        (("answer", "quotes", 0, "passage", "page"), "2"),
        (("answer", "quotes", 0, "highlights"), [["0", 5]]),
        (("answer", "best_score"), "high"),
        (("answer", "best_score"), False),
        # Text is no list, and "false" is no flag: neither is read as something else.
        (("sources",), "ab"),
        (("literal",), "false"),
        (("indexed",), ["ab"]),
        (("answer", "found"), 1),
        (("answer", "quotes", 0, "also_in"), "x"),
        (("answer", "quotes", 0, "highlights"), [[0, 5, 9]]),
    ],
)
def test_fields_of_the_wrong_type_are_a_value_error(fake_index: qa.Index, path: tuple[Any, ...], value: object) -> None:
    data = json.loads(turn_to_json(answered_turn(fake_index, "Who owns the Corner Bakery?")))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match="not a saved turn"):
        turn_from_json(json.dumps(data))


@pytest.mark.parametrize(
    "path",
    [
        ("question",),
        ("answer",),
        ("answer", "more"),
        ("answer", "quotes", 0, "passage"),
        ("answer", "quotes", 0, "title"),
    ],
)
def test_missing_fields_are_a_value_error(fake_index: qa.Index, path: tuple[Any, ...]) -> None:
    data = json.loads(turn_to_json(answered_turn(fake_index, "Who owns the Corner Bakery?")))
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(ValueError, match="not a saved turn"):
        turn_from_json(json.dumps(data))
