"""A checked question (qa.search.request): each check on its own, and what Request.checked builds from them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from qa.config import RETRIEVERS, Settings
from qa.errors import QueryError
from qa.search.followup import resolve
from qa.search.request import Request, check_history, check_k, check_mode, check_question

MOSUL = "What kinds of aid do Mosul NGOs send to Palestine?"


# -- the question ---------------------------------------------------------------------------


def test_the_question_comes_back_stripped() -> None:
    assert check_question("  \n Where is Etna?\t ", 100) == "Where is Etna?"


def test_the_length_limit_counts_the_stripped_question_and_allows_exactly_the_limit() -> None:
    assert check_question("  " + "x" * 10 + "  ", 10) == "x" * 10
    with pytest.raises(QueryError, match="11 characters long; the limit is 10"):
        check_question("x" * 11, 10)


@pytest.mark.parametrize("question", [None, b"Where is Etna?", 42, ["Where is Etna?"]])
def test_a_question_that_is_not_text_is_a_query_error(question: object) -> None:
    with pytest.raises(QueryError, match="must be text"):
        check_question(question, 100)


def test_a_question_of_broken_unicode_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="broken Unicode"):
        check_question("Where is \ud800 Etna?", 100)


# -- k --------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 7, np.int64(3), np.uint8(2)], ids=repr)
def test_a_whole_k_of_at_least_one_is_returned_as_a_plain_int(k: object) -> None:
    size = check_k(k)
    assert type(size) is int and size == k


@pytest.mark.parametrize("k", [True, False, 3.0, "3", None, np.int64(0), np.float64(2.0)], ids=repr)
def test_a_k_that_is_not_a_whole_number_of_at_least_one_is_a_query_error(k: object) -> None:
    with pytest.raises(QueryError, match="k must be a whole number of at least 1"):
        check_k(k)


def test_the_k_error_never_echoes_a_long_value_whole() -> None:
    with pytest.raises(QueryError) as caught:
        check_k("9" * 10_000)
    assert len(str(caught.value)) < 200


# -- the retriever --------------------------------------------------------------------------


def test_no_retriever_means_the_default_and_each_name_is_taken_as_given() -> None:
    assert check_mode(None, "lexical") == "lexical"
    assert [check_mode(name, "hybrid") for name in RETRIEVERS] == list(RETRIEVERS)


@pytest.mark.parametrize("retriever", ["Dense", " dense", "", "bm25", 1, ["dense"]], ids=repr)
def test_a_retriever_not_spelled_exactly_as_one_of_the_three_is_a_query_error(retriever: object) -> None:
    with pytest.raises(QueryError, match=r"unknown retriever .*: choose one of dense, lexical, hybrid"):
        check_mode(retriever, "hybrid")


# -- the history ----------------------------------------------------------------------------


def test_a_history_of_any_iterable_of_text_comes_back_as_a_list() -> None:
    def earlier() -> Iterator[str]:
        yield "first?"
        yield "second?"

    assert check_history(earlier()) == ["first?", "second?"]
    assert check_history(("one?",)) == ["one?"]
    assert check_history([]) == []


@pytest.mark.parametrize("history", ["Who owns the bakery?", b"bytes", 5, None], ids=repr)
def test_a_history_that_is_not_a_collection_of_questions_is_a_query_error(history: object) -> None:
    # A string is iterable, but as a history it would be a list of letters.
    with pytest.raises(QueryError, match="history must be a list of earlier questions"):
        check_history(history)


def test_a_history_holding_something_other_than_text_names_what_it_holds() -> None:
    with pytest.raises(QueryError, match="not of NoneType"):
        check_history(["fine?", None])
    with pytest.raises(QueryError, match="an earlier question holds characters that are not text"):
        check_history(["who runs \udc80 it"])


# -- Request.checked ------------------------------------------------------------------------


def test_a_checked_request_holds_the_stripped_question_the_size_and_the_default_retriever() -> None:
    request = Request.checked("  Where is Etna? ", np.int64(4), settings=Settings(retriever="dense"))
    assert request == Request("Where is Etna?", "Where is Etna?", 4, "dense", None)
    assert type(request.k) is int


def test_a_follow_up_keeps_its_history_for_the_retriever_to_resolve() -> None:
    request = Request.checked(" and in Isfahan? ", 3, settings=Settings(), history=[MOSUL, "  "])
    assert request.question == request.searched == "and in Isfahan?"
    # Blank earlier questions carry nothing; the retriever resolves the rest with the corpus at hand.
    assert request.history == (MOSUL,)
    assert "Mosul" not in resolve("and in Isfahan?", list(request.history))


def test_without_history_the_search_is_the_question_itself() -> None:
    request = Request.checked("and in Isfahan?", 3, settings=Settings())
    assert request.searched == request.question == "and in Isfahan?"


def test_the_settings_limit_the_question_length() -> None:
    with pytest.raises(QueryError, match="limit is 10"):
        Request.checked("x" * 11, 1, settings=Settings(max_question_chars=10))
    assert Request.checked("x" * 10, 1, settings=Settings(max_question_chars=10)).question == "x" * 10


def test_sources_given_as_a_generator_are_kept_as_a_list_and_a_single_name_as_it_is() -> None:
    chosen = Request.checked("q?", 1, settings=Settings(), sources=(name for name in ["a.txt", "nested"]))
    assert chosen.sources == ["a.txt", "nested"]
    assert Request.checked("q?", 1, settings=Settings(), sources="a.txt").sources == "a.txt"
    assert Request.checked("q?", 1, settings=Settings()).sources is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"question": "  "}, "the question is empty"),
        ({"k": 0}, "k must be"),
        ({"retriever": "magic"}, "unknown retriever"),
        ({"history": "not a list"}, "history must be"),
    ],
    ids=["question", "k", "retriever", "history"],
)
def test_any_unusable_part_of_a_request_is_a_query_error_naming_it(changes: dict[str, object], message: str) -> None:
    parts: dict[str, object] = {"question": "Where is Etna?", "k": 3, "retriever": None, "history": ()}
    parts.update(changes)
    with pytest.raises(QueryError, match=message):
        Request.checked(
            parts["question"], parts["k"], settings=Settings(), retriever=parts["retriever"], history=parts["history"]
        )


def test_a_request_cannot_be_changed_once_checked() -> None:
    request = Request.checked("Where is Etna?", 3, settings=Settings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.k = 0  # type: ignore[misc]
