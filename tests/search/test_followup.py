"""Follow-up questions: which questions lean on the previous one, and what is searched for them."""

from __future__ import annotations

import pytest

from qa.search.followup import CARRIED_MAX, is_follow_up, resolve

MOSUL_AID = "What kinds of aid have Mosul NGOs sent to the Palestinian territories?"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("and in Isfahan?", True),
        ("what about the library?", True),
        ("who else said that?", True),
        ("why?", True),
        ("Who directs the Basra Cultural Center?", False),
        ("Where is Basra?", False),
        ("What is democracy?", False),
        ("What is the capital of France?", False),
    ],
)
def test_follow_ups_are_told_from_questions_that_stand_alone(question: str, expected: bool) -> None:
    assert is_follow_up(question) is expected


def test_a_new_place_takes_the_old_ones_place() -> None:
    searched = resolve("and in Isfahan?", [MOSUL_AID])
    assert searched == "and in Isfahan? What kinds of aid have Isfahan NGOs sent to the Palestinian territories?"
    assert "Mosul" not in searched


def test_an_aspect_follow_up_keeps_the_names() -> None:
    assert resolve("what about the library?", ["Who directs the Basra Cultural Center?"]) == (
        "what about the library? Basra Cultural Center"
    )


def test_someone_else_drops_the_names_and_keeps_the_subject() -> None:
    searched = resolve("who else said that?", ["What did Dr. Hisham Al-Hashimi say about the cultural initiatives?"])
    assert "Hisham" not in searched and "cultural initiatives" in searched


def test_a_question_of_its_own_is_searched_as_it_is() -> None:
    assert resolve("What is the capital of France?", [MOSUL_AID]) == "What is the capital of France?"
    assert resolve("  and in Isfahan?  ", []) == "and in Isfahan?"


def test_a_chain_keeps_the_first_subject_and_stays_short() -> None:
    history = [MOSUL_AID]
    for place in ("Isfahan", "Basra", "Mosul", "Isfahan", "Basra", "Najaf", "Erbil", "Kirkuk"):
        searched = resolve(f"and in {place}?", history)
        assert searched.endswith(f"have {place} NGOs sent to the Palestinian territories?")
        assert len(searched) <= len(f"and in {place}?") + 1 + CARRIED_MAX
        history.append(f"and in {place}?")
    assert resolve("why?", history).startswith("why? What kinds of aid have Kirkuk NGOs")


def test_names_after_a_sentence_end_are_not_taken_for_names() -> None:
    searched = resolve("and Isfahan?", ["Tell me about aid. What do Mosul NGOs send?"])
    assert "Isfahan NGOs" in searched and "Mosul" not in searched and "What do" in searched


def test_a_sentence_closed_inside_quotes_still_ends_where_the_index_ends_it() -> None:
    searched = resolve("and Isfahan?", ['They said "aid is coming." What do Mosul NGOs send?'])
    assert "Isfahan NGOs" in searched and "Mosul" not in searched and "What do" in searched


@pytest.mark.parametrize(
    "base", ['It ended. "Rescue teams reached Mosul." Who sent them?', "Aid arrived. (Donors in Mosul paid.) Who else?"]
)
def test_a_sentence_opening_with_a_quote_or_bracket_does_not_make_its_first_word_a_name(base: str) -> None:
    searched = resolve("and Isfahan?", [base])
    assert "Isfahan paid" in searched or "reached Isfahan" in searched
    assert "Rescue" in searched or "Donors" in searched


def test_titles_do_not_end_sentences_and_names_are_replaced_as_whole_words() -> None:
    assert resolve("and Dr. Omar Khalil?", ["What did Dr. Amina Al-Tamimi say about Basra?"]) == (
        "and Dr. Omar Khalil? What did Dr. Omar Khalil say about Basra?"
    )
    assert resolve("and Omar?", ["Did Ali visit Alibaba?"]) == "and Omar? Did Omar visit Alibaba?"


def test_a_name_added_to_a_question_without_names_asks_it_about_that_name() -> None:
    assert resolve("and in Basra?", ["Who directs the cultural center?"]) == (
        "and in Basra? Who directs the cultural center?"
    )


def test_long_inputs_stay_bounded_and_quick() -> None:
    base = "Xo, " * 497
    searched = resolve("and " + "Xo, " * 498, [base, "and " + "Xo, " * 498])
    assert len(searched) <= 2 * 2000 + 1
