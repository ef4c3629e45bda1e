"""Time and contrast words: which a question holds, as keyword terms."""

from __future__ import annotations

import pytest

from qa.search.markers import markers


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the light switched on again?", ["again"]),
        ("Is the crossing still closed, or no longer?", ["still", "longer"]),
        ("What happened AFTER the first sale?", ["after", "first"]),
        ("When did it first open, and when did it open again?", ["first", "again"]),
        ("Who directs the Basra Cultural Center?", []),
        # Whole words only: "nowhere" and "firstly" hold no marker, "Again," does.
        ("Nowhere firstly? Again, who?", ["again"]),
    ],
)
def test_a_question_holds_the_time_and_contrast_words_it_says_once_each(question: str, expected: list[str]) -> None:
    assert markers(question) == expected
