"""Follow-up questions: which questions lean on the previous one, and what is searched for them."""

from __future__ import annotations

from typing import ClassVar

import pytest

from qa.search.followup import CARRIED_MAX, Where, conversation, is_follow_up, resolve, step

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


# -- with the corpus at hand ------------------------------------------------------------------


class FakeCorpus:
    """Files and the words they hold; a word in most of a file's passages is its subject."""

    FILES: ClassVar[dict[str, dict[str, bool]]] = {
        "mosul.txt": {"mosul": True, "aid": False, "ngos": False, "sent": False, "palestinian": False, "own": False},
        "isfahan.txt": {"isfahan": True, "gaza": True, "aid": False, "palestinian": False, "own": False},
        "hives.docx": {"hive": True, "hives": True, "cost": False, "sponsor": False, "honey": False},
        "report.pdf": {"lighthouse": True, "kettle": True, "point": True, "light": False, "switched": False},
        "tide-mill.md": {"tide": True, "mill": True, "open": False, "miller": False},
        "seed-library.html": {"seed": True, "library": True, "open": False, "thornbury": True},
    }

    def __init__(self) -> None:
        self.searched: list[tuple[str, frozenset[str]]] = []

    def where(self, words: list[str]) -> dict[str, Where]:
        places = {}
        for word in words:
            folded = word.lower()
            held = frozenset(f for f, w in self.FILES.items() if folded in w)
            subject = frozenset(f for f, w in self.FILES.items() if w.get(folded))
            # The file's own name is in all of its passages, other subjects in half.
            places[word] = Where(held, subject, {f: 1.0 if folded in f else 0.5 for f in subject})
        return places

    def subject(self, searched: str, focus: frozenset[str]) -> str | None:
        self.searched.append((searched, focus))
        if focus:
            return sorted(focus)[0]
        words = {w.lower().strip("?,.") for w in searched.split()}
        best = max(self.FILES, key=lambda f: sum(1 for w in words if self.FILES[f].get(w)))
        return best if any(self.FILES[best].get(w) for w in words) else None


def test_a_follow_up_naming_another_files_subject_moves_there_and_ranks_it_first() -> None:
    turn = conversation("and in Isfahan?", [MOSUL_AID], FakeCorpus())
    assert turn.focus == {"isfahan.txt"}
    assert "Isfahan NGOs" in turn.searched and "Mosul" not in turn.searched
    # The last turn's own file is not searched for: nothing follows it yet.
    assert turn.subject is None
    assert step("and in Isfahan?", MOSUL_AID, "mosul.txt", FakeCorpus()).subject == "isfahan.txt"


def test_a_new_subject_in_lower_case_takes_the_old_ones_place() -> None:
    turn = conversation("what about isfahan?", [MOSUL_AID], FakeCorpus())
    assert turn.focus == {"isfahan.txt"}
    assert "Mosul" not in turn.searched and "isfahan NGOs" in turn.searched


def test_a_new_subject_that_is_no_name_leaves_the_old_subjects_own_words_behind() -> None:
    turn = conversation("and the tide mill?", ["When is the seed library open?"], FakeCorpus())
    assert turn.focus == {"tide-mill.md"}
    assert "open" in turn.searched
    assert "seed" not in turn.searched.lower() and "library" not in turn.searched.lower()


def test_a_follow_up_without_a_new_subject_stays_on_the_conversations_file() -> None:
    corpus = FakeCorpus()
    turn = conversation("what did they send?", [MOSUL_AID], corpus)
    assert turn.focus == {"mosul.txt"}
    assert turn.searched.startswith("what did they send?") and "Mosul" in turn.searched


def test_a_question_with_its_own_subject_and_verb_is_never_rewritten() -> None:
    question = "How much does it cost to sponsor a hive?"
    turn = conversation(question, ["When was the Kettle Point lighthouse switched off?"], FakeCorpus())
    assert turn.searched == question and turn.focus == frozenset()
    # The words alone cannot tell: three words of its own and "it" make a follow-up.
    assert resolve(question, ["When was the Kettle Point lighthouse switched off?"]) != question


def test_a_new_subject_with_two_words_of_its_own_stands_alone_and_one_with_fewer_follows() -> None:
    question = "and does Isfahan send aid too?"
    assert conversation(question, [MOSUL_AID], FakeCorpus()).searched == question
    turn = conversation("ok, same question for Isfahan", [MOSUL_AID], FakeCorpus())
    assert turn.focus == {"isfahan.txt"} and "Isfahan NGOs" in turn.searched


def test_the_old_subjects_name_is_the_one_replaced() -> None:
    turn = conversation("and for Mosul?", ["Who is behind the aid for Gaza in Isfahan?"], FakeCorpus())
    assert turn.focus == {"mosul.txt"}
    assert "aid for Gaza in Mosul" in turn.searched and "Isfahan" not in turn.searched


def test_someone_else_prefers_no_file() -> None:
    turn = conversation("who else said that?", ["What did the Mosul historian say?"], FakeCorpus())
    assert turn.focus == frozenset()


def test_a_chain_follows_the_subject_from_file_to_file() -> None:
    corpus = FakeCorpus()
    turn = conversation("and the tide mill?", ["When is the seed library open?", "what about the hives?"], corpus)
    assert turn.focus == {"tide-mill.md"}
    assert "hive" not in turn.searched.lower()


def test_a_question_whose_words_the_conversations_file_lacks_stands_alone() -> None:
    # None of "cost", "repair", "boat" is in the Mosul file: nothing ties the question to it.
    question = "How much does it cost to repair a boat?"
    assert conversation(question, [MOSUL_AID], FakeCorpus()).searched == question
    # Two words are too few to tell ("what did they send to Gaza?" may still mean Mosul).
    assert conversation("what did it cost them?", [MOSUL_AID], FakeCorpus()).focus == {"mosul.txt"}


def test_a_name_only_another_file_holds_moves_the_conversation_there() -> None:
    # "Amina" is no file's subject (one passage of Basra's), but a name the Mosul file lacks.
    corpus = FakeCorpus()
    corpus.FILES = {**FakeCorpus.FILES, "basra.txt": {"basra": True, "amina": False}}
    turn = conversation("and what did Amina say?", [MOSUL_AID], corpus)
    assert turn.focus == {"basra.txt"}


def test_a_follow_up_about_what_no_file_holds_stands_alone() -> None:
    question = "And what is the capital of France?"
    assert conversation(question, [MOSUL_AID], FakeCorpus()).searched == question


def test_the_history_is_read_from_the_last_question_that_stood_alone() -> None:
    corpus = FakeCorpus()
    history = [MOSUL_AID] + ["and in Isfahan?", "and in Mosul?"] * 15
    turn = conversation("and in Isfahan?", history, corpus)
    assert "aid" in turn.searched and turn.focus == {"isfahan.txt"}
    # Only the last turns were searched (what each was about); the rest by their words.
    assert len(corpus.searched) <= 12 + 1


def test_long_earlier_questions_are_cut_to_the_longest_question() -> None:
    # 150,000 characters of "in in in …": read as the first 2,000 (benchmarks time the rest).
    history = ["What aid do Mosul NGOs send" + " in" * 50_000 + " x?"]
    corpus = FakeCorpus()
    turn = conversation("and in Isfahan?", history, corpus)
    assert len(turn.searched) <= 2 * 2000 + 1
    assert all(len(searched) <= 2000 for searched, _ in corpus.searched)
