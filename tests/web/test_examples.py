"""Example questions: the names a text gives, a document's subjects, and the questions the index answers."""

from __future__ import annotations

import pytest

from qa.store.catalog import DocumentInfo
from qa.web.examples import (
    CONFIDENT,
    DOCUMENTS_TRIED,
    NOT_ANSWERED,
    SUBJECTS_PER_DOCUMENT,
    TITLE_WORDS,
    WEAK,
    example_questions,
    names,
    question_about,
    subjects,
)


def doc(source: str, title: str = "", skipped: str | None = None) -> DocumentInfo:
    return DocumentInfo(
        source=source,
        title=title,
        skipped=skipped,
        paragraphs=0 if skipped else 3,
        pages=None,
        size=100,
        indexed=1_700_000_000.0,
    )


# -- names -------------------------------------------------------------------------------------------------------


def test_names_skip_the_first_word_of_each_sentence() -> None:
    text = "Visitors came early. Tourists love Granada. Granada is old!\nMuseums open late? Yes, in Seville."
    assert names(text) == ["Granada", "Seville"]


def test_names_join_runs_of_capitalised_words() -> None:
    text = "The new Basra Cultural Center opened in May. People visit the Basra Cultural Center daily."
    assert names(text)[0] == "Basra Cultural Center"
    assert "Basra" not in names(text) and "Center" not in names(text)


def test_names_strip_a_possessive() -> None:
    text = "We met at Omar's shop. Later we saw Omar’s cafe and the Basra Cultural Center's hall."
    assert names(text) == ["Omar", "Basra Cultural Center"]


def test_names_keep_inner_apostrophes_and_hyphens() -> None:
    assert names("We met O'Neill and Al-Rashid at the Ritz.") == ["O'Neill", "Al-Rashid", "Ritz"]


def test_names_most_repeated_first_then_earliest() -> None:
    text = "We saw Paris in spring. Then we saw Rome and Rome again. Later we saw Vienna and Oslo and Oslo."
    # Rome and Oslo twice (Rome first seen earlier), then Paris and Vienna once each in order.
    assert names(text) == ["Rome", "Oslo", "Paris", "Vienna"]


def test_names_of_a_text_without_names_are_empty() -> None:
    assert names("") == []
    assert names("Nothing here is capitalised after the start. Really nothing.") == []


def test_names_are_not_joined_across_punctuation() -> None:
    # "Paris, London and Rome" names three cities, not a city called "Paris London".
    assert names("We visited Paris, London and Rome.") == ["Paris", "London", "Rome"]


def test_names_read_only_the_start_of_a_long_text() -> None:
    text = "the quiet town. " * 2_000 + "We met Zanzibar there."
    assert "Zanzibar" not in names(text)
    assert names("the quiet town. We met Zanzibar there.") == ["Zanzibar"]


# -- subjects ----------------------------------------------------------------------------------------------------


def test_subjects_put_the_title_first_then_repeated_names() -> None:
    text = "We met Omar there. Then Omar left and Layla came. The Tigris flows past."
    assert subjects(doc("a.txt", "The Old Market"), text) == ["The Old Market", "Omar", "Layla", "Tigris"]


def test_subjects_put_names_of_several_words_before_single_ones() -> None:
    text = "We met Omar there. Then Omar left. The Basra Cultural Center opened. Omar came back."
    assert subjects(doc("a.txt"), text) == ["Basra Cultural Center", "Omar"]


def test_subjects_without_a_title_are_the_names() -> None:
    assert subjects(doc("a.txt"), "We met Omar there. Then Omar left and Layla came.") == ["Omar", "Layla"]


def test_subjects_cut_a_long_title_with_an_ellipsis() -> None:
    title = "One two three four five six seven eight nine ten"
    [subject] = subjects(doc("a.txt", title), "")
    assert subject == " ".join(title.split()[:TITLE_WORDS]) + "…"
    assert len(subject.removesuffix("…").split()) == TITLE_WORDS


def test_subjects_keep_a_title_of_exactly_title_words() -> None:
    title = " ".join(f"Word{n}" for n in range(TITLE_WORDS))
    assert subjects(doc("a.txt", title), "") == [title]


def test_subjects_do_not_repeat_the_title_and_stop_at_the_limit() -> None:
    text = "We saw Granada. Then Granada again and Seville and Cordoba and Malaga and Ronda."
    found = subjects(doc("a.txt", "Granada"), text)
    assert found == ["Granada", "Seville", "Cordoba", "Malaga", "Ronda"][:SUBJECTS_PER_DOCUMENT]
    assert len(found) == SUBJECTS_PER_DOCUMENT


# -- example_questions -------------------------------------------------------------------------------------------


def test_question_about_names_the_subject() -> None:
    assert question_about("Basra Cultural Center") == "What do the articles say about Basra Cultural Center?"


def test_example_questions_one_per_document_in_order() -> None:
    docs = [doc("a.txt", "Alpha Mill"), doc("b.txt", "Beta Harbour"), doc("c.txt", "Gamma Bridge")]
    texts = {"a.txt": "We saw Omar and Omar.", "b.txt": "", "c.txt": ""}
    found = example_questions(docs, texts.__getitem__, lambda question: True, count=5)
    assert found == [question_about("Alpha Mill"), question_about("Beta Harbour"), question_about("Gamma Bridge")]


def test_example_questions_pass_over_skipped_documents() -> None:
    docs = [doc("locked.pdf", "Locked Report", skipped="encrypted PDF"), doc("b.txt", "Beta Harbour")]
    read: list[str] = []

    def text_of(source: str) -> str:
        read.append(source)
        return ""

    found = example_questions(docs, text_of, lambda question: True, count=5)
    assert found == [question_about("Beta Harbour")]
    assert read == ["b.txt"]


def test_example_questions_only_those_answered() -> None:
    docs = [doc("a.txt", "Alpha Mill"), doc("b.txt", "Beta Harbour")]
    texts = {"a.txt": "We met Omar there and Omar left.", "b.txt": "We met Layla there."}
    asked: list[str] = []

    def answered(question: str) -> bool:
        asked.append(question)
        return "Omar" in question

    found = example_questions(docs, texts.__getitem__, answered, count=5)
    assert found == [question_about("Omar")]
    # Every subject of both documents was tried, the title first.
    assert asked == [
        question_about("Alpha Mill"),
        question_about("Omar"),
        question_about("Beta Harbour"),
        question_about("Layla"),
    ]


def test_example_questions_stop_at_count() -> None:
    docs = [doc(f"{n}.txt", f"Subject Number{n}") for n in range(6)]
    read: list[str] = []

    def text_of(source: str) -> str:
        read.append(source)
        return ""

    found = example_questions(docs, text_of, lambda question: CONFIDENT, count=2)
    assert found == [question_about("Subject Number0"), question_about("Subject Number1")]
    assert read == ["0.txt", "1.txt"]


def test_confident_questions_are_chosen_before_weak_ones_and_shown_in_order() -> None:
    docs = [doc(f"{n}.txt", f"Subject Number{n}") for n in range(4)]
    levels = {question_about("Subject Number0"): WEAK, question_about("Subject Number2"): CONFIDENT}

    def answered(question: str) -> int:
        return levels.get(question, NOT_ANSWERED)

    # Number2 is answered confidently; Number0 only weakly, so it fills the place left.
    found = example_questions(docs, lambda source: "", answered, count=2)
    assert found == [question_about("Subject Number0"), question_about("Subject Number2")]
    assert example_questions(docs, lambda source: "", answered, count=1) == [question_about("Subject Number2")]


def test_example_questions_of_zero_count_are_empty() -> None:
    assert example_questions([doc("a.txt", "Alpha")], lambda source: "", lambda question: True, count=0) == []


def test_example_questions_try_at_most_documents_tried() -> None:
    docs = [doc(f"{n:02}.txt", f"Title Number{n}") for n in range(DOCUMENTS_TRIED + 5)]
    read: list[str] = []

    def text_of(source: str) -> str:
        read.append(source)
        return ""

    # Only the last documents would be answered: they are never reached.
    found = example_questions(docs, text_of, lambda question: "Number15" in question, count=3)
    assert found == []
    assert len(read) == DOCUMENTS_TRIED
    assert read == [d.source for d in docs[:DOCUMENTS_TRIED]]


def test_skipped_documents_do_not_count_as_tried() -> None:
    skipped = [doc(f"s{n:02}.doc", f"Skipped{n}", skipped="not read") for n in range(DOCUMENTS_TRIED)]
    found = example_questions([*skipped, doc("z.txt", "Last Harbour")], lambda s: "", lambda q: True, count=3)
    assert found == [question_about("Last Harbour")]


def test_example_questions_are_never_repeated() -> None:
    # Two copies with one title: the second document offers its next subject instead.
    docs = [doc("a.txt", "Harbour Wall"), doc("copy/a.txt", "Harbour Wall"), doc("c.txt", "Harbour Wall")]
    texts = {"a.txt": "", "copy/a.txt": "We met Omar there.", "c.txt": ""}
    found = example_questions(docs, texts.__getitem__, lambda question: True, count=5)
    assert found == [question_about("Harbour Wall"), question_about("Omar")]
    assert len(set(found)) == len(found)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_example_questions_never_exceed_count(count: int) -> None:
    docs = [doc(f"{n}.txt", f"Title{n}") for n in range(10)]
    assert len(example_questions(docs, lambda s: "", lambda q: True, count=count)) == count


def test_a_title_all_in_lower_case_is_written_as_a_name() -> None:
    assert subjects(doc("zorblat_lighthouse.txt", "zorblat lighthouse"), "")[0] == "Zorblat Lighthouse"
    assert subjects(doc("a.txt", "The iPhone story"), "")[0] == "The iPhone story"
