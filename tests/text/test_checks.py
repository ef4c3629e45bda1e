"""Text checks (qa.text.checks): only strings of real characters pass; anything else is a QueryError naming it."""

from __future__ import annotations

import pytest

from qa.errors import QAError, QueryError
from qa.text.checks import check_text


def test_text_is_returned_as_it_is() -> None:
    text = "  Who runs the Corner Bakery?\n"
    # Not stripped, not copied: checking is not cleaning.
    assert check_text(text) is text


def test_empty_text_is_text() -> None:
    assert check_text("") == ""


@pytest.mark.parametrize(
    "text",
    [
        "Zürich Δέλτα 東京",
        "emoji 😀 outside the BMP",
        "control \x00\x07\x1b characters",
        "line\u2028separator and \ufeff BOM",
    ],
)
def test_any_real_characters_pass(text: str) -> None:
    assert check_text(text) == text


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "NoneType"), (b"bytes", "bytes"), (42, "int"), (["a"], "list"), (3.5, "float")],
)
def test_what_is_not_a_string_is_refused_naming_its_type(value: object, kind: str) -> None:
    with pytest.raises(QueryError) as caught:
        check_text(value)
    assert str(caught.value) == f"the question must be text, not {kind}"


def test_the_message_names_what_was_checked() -> None:
    with pytest.raises(QueryError, match=r"^a file or folder must be text, not int$"):
        check_text(7, "a file or folder")
    with pytest.raises(QueryError, match=r"^an earlier question holds characters that are not text"):
        check_text("who \ud800", "an earlier question")


@pytest.mark.parametrize("text", ["\ud800", "\udfff", "Etna \udc80 volcano", "\ude00\ud83d", "\ud83d\ude00"])
def test_lone_surrogates_are_refused_as_broken_unicode(text: str) -> None:
    # Even a high and a low surrogate side by side are two lone code points in a Python string.
    with pytest.raises(QueryError, match=r"broken Unicode") as caught:
        check_text(text)
    assert isinstance(caught.value.__cause__, UnicodeEncodeError)


def test_refusals_are_errors_of_the_package() -> None:
    with pytest.raises(QAError):
        check_text(None)
    with pytest.raises(QAError):
        check_text("\ud800")
