"""Saved conversations of the web chat (qa.web.sessions): ids, owners, reloads, votes, the list, two tabs, failures."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

import qa
from qa.errors import IndexAccessError, QueryError
from qa.index import Index
from qa.store.conversations import CONVERSATIONS
from qa.web.conversation import Conversation, Turn
from qa.web.sessions import BROWSER_COOKIE, SavedConversation, Sessions, browser_id, owner_of

ANN, BOB = "user:ann", "browser:" + "b" * 32
ETNA = "Where is Mount Etna?"
BAKERY = "When did the Corner Bakery open?"
DANUBE = "Where does the Danube flow?"


class CountingIndex:
    """An index that counts the questions it answers (a conversation needs only ``answer`` and ``manifest``)."""

    def __init__(self, index: qa.Index) -> None:
        self.index = index
        self.asked: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Any:
        return self.index.manifest

    def answer(self, question: str, **options: Any) -> Any:
        with self._lock:
            self.asked[question] += 1
        return self.index.answer(question, **options)


def counting(index: qa.Index) -> tuple[CountingIndex, Index]:
    """The counter and the same object typed as an index."""
    counter = CountingIndex(index)
    return counter, cast(Index, counter)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "saved"


@pytest.fixture
def sessions(folder: Path) -> Sessions:
    return Sessions(folder)


def saved(conversation: Conversation | None) -> SavedConversation:
    """``conversation``, checked to be kept in the store."""
    assert isinstance(conversation, SavedConversation)
    return conversation


def turns_of(conversation: Conversation) -> tuple[Turn, ...]:
    return conversation.view()[0]


def asked_and_answered(conversation: Conversation, index: qa.Index, *questions: str) -> tuple[Turn, ...]:
    for question in questions:
        conversation.ask(question, (), limit=2000)
    conversation.answer_pending(index)
    return turns_of(conversation)


# -- browser ids and owners --------------------------------------------------------------------------------------


def test_the_cookie_is_named_qa_browser() -> None:
    assert BROWSER_COOKIE == "qa_browser"


def test_browser_id_accepts_32_lowercase_hex_digits() -> None:
    for value in ("0" * 32, "0123456789abcdef" * 2, "f" * 32):
        assert browser_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 31,
        "a" * 33,
        "A" * 32,
        "0123456789ABCDEF" * 2,
        "g" * 32,
        "a" * 31 + "\n",
        "a" * 32 + "\n",
        " " + "a" * 32,
        "a" * 16 + "-" + "a" * 15,
        "０" * 32,  # fullwidth digits are digits, not hex
        None,
        12345,
        b"a" * 32,
        ["a" * 32],
    ],
)
def test_browser_id_refuses_anything_else(value: object) -> None:
    assert browser_id(value) == ""


def test_owner_is_the_signed_in_user_else_the_browser_else_nobody() -> None:
    browser = "c" * 32
    assert owner_of("ann", browser) == "user:ann"
    assert owner_of("ann", "") == "user:ann"
    assert owner_of(None, browser) == f"browser:{browser}"
    assert owner_of("", browser) == f"browser:{browser}"
    assert owner_of(None, "") == ""
    assert owner_of("", "") == ""


def test_a_user_and_a_browser_of_the_same_name_are_different_owners() -> None:
    name = "d" * 32
    assert owner_of(name, "") != owner_of(None, name)


# -- opening -----------------------------------------------------------------------------------------------------


def test_nobody_gets_an_unsaved_conversation_and_nothing_is_written(sessions: Sessions, folder: Path) -> None:
    for conversation in (sessions.open(""), sessions.new("")):
        assert type(conversation) is Conversation
    assert sessions.switch("", "0" * 32) is None
    assert sessions.summaries("") == []
    assert not (folder / CONVERSATIONS).exists()


def test_the_first_open_makes_a_new_conversation_and_later_opens_return_it(sessions: Sessions) -> None:
    first = saved(sessions.open(ANN))
    assert first.owner == ANN and len(first.id) == 32
    assert turns_of(first) == ()
    assert sessions.store.open_of(ANN) == first.id
    again = saved(sessions.open(ANN))
    assert again.id == first.id
    assert [s.id for s in sessions.summaries(ANN)] == [first.id]


def test_owners_have_conversations_of_their_own(sessions: Sessions, fake_index: qa.Index) -> None:
    ann = saved(sessions.open(ANN))
    bob = saved(sessions.open(BOB))
    assert ann.id != bob.id
    asked_and_answered(ann, fake_index, ETNA)
    assert turns_of(saved(sessions.open(BOB))) == ()
    assert [s.id for s in sessions.summaries(BOB)] == [bob.id]


def test_turns_and_answers_are_there_after_a_reload(folder: Path, sessions: Sessions, fake_index: qa.Index) -> None:
    conversation = saved(sessions.open(ANN))
    before = asked_and_answered(conversation, fake_index, ETNA, BAKERY)
    assert [t.question for t in before] == [ETNA, BAKERY]
    assert all(t.answer is not None and t.answer.found for t in before)

    # Another server process (or the same one restarted) over the same folder.
    reopened = saved(Sessions(folder).open(ANN))
    assert reopened.id == conversation.id
    after = turns_of(reopened)
    assert after == before
    assert after[0].answer is not None and "volcano.txt" in after[0].answer.quotes[0].citation
    assert reopened.title == ETNA


def test_turn_ids_continue_after_a_reload(folder: Path, sessions: Sessions, fake_index: qa.Index) -> None:
    asked_and_answered(saved(sessions.open(ANN)), fake_index, ETNA, BAKERY)
    reopened = saved(Sessions(folder).open(ANN))
    turns_of(reopened)
    turn = reopened.ask(DANUBE, (), limit=2000)
    assert turn.id == 2
    assert [t.id for t in turns_of(saved(Sessions(folder).open(ANN)))] == [0, 1, 2]


def test_a_pending_question_is_kept_and_answered_after_a_reload(
    folder: Path, sessions: Sessions, fake_index: qa.Index
) -> None:
    saved(sessions.open(ANN)).ask(ETNA, (), limit=2000)
    reopened = saved(Sessions(folder).open(ANN))
    (pending,) = turns_of(reopened)
    assert pending.pending and pending.question == ETNA
    assert reopened.answer_pending(fake_index)
    (answered,) = turns_of(saved(Sessions(folder).open(ANN)))
    assert answered.answer is not None and answered.answer.found


def test_an_unanswerable_question_keeps_its_error_after_a_reload(
    folder: Path, sessions: Sessions, fake_index: qa.Index
) -> None:
    conversation = saved(sessions.open(ANN))
    conversation.ask(ETNA, ("no-such-file.txt",), limit=2000)
    conversation.answer_pending(fake_index)
    (before,) = turns_of(conversation)
    (after,) = turns_of(saved(Sessions(folder).open(ANN)))
    assert after == before
    assert after.sources == ("no-such-file.txt",)
    assert after.error or (after.answer is not None and not after.answer.quotes)


def test_votes_survive_a_reload_and_taking_one_back_removes_it(
    folder: Path, sessions: Sessions, fake_index: qa.Index
) -> None:
    conversation = saved(sessions.open(ANN))
    first, second = asked_and_answered(conversation, fake_index, ETNA, BAKERY)
    assert conversation.vote(first.id, "q1", "up")
    assert conversation.vote(second.id, "q1", "down")
    assert not conversation.vote(second.id, "q1", "down")

    reopened = saved(Sessions(folder).open(ANN))
    assert reopened.view()[1] == {(first.id, "q1"): "up", (second.id, "q1"): "down"}

    assert reopened.vote(first.id, "q1", None)
    again = saved(Sessions(folder).open(ANN))
    assert again.view()[1] == {(second.id, "q1"): "down"}
    stored = sessions.store.load(ANN, conversation.id)
    assert stored is not None and stored.votes == {(second.id, "q1"): "down"}


def test_a_changed_vote_replaces_the_old_one(folder: Path, sessions: Sessions, fake_index: qa.Index) -> None:
    conversation = saved(sessions.open(ANN))
    (turn,) = asked_and_answered(conversation, fake_index, ETNA)
    conversation.vote(turn.id, "q1", "up")
    conversation.vote(turn.id, "q1", "down")
    assert saved(Sessions(folder).open(ANN)).view()[1] == {(turn.id, "q1"): "down"}


def test_a_copy_is_bound_to_the_same_stored_conversation(sessions: Sessions, fake_index: qa.Index) -> None:
    conversation = saved(sessions.open(ANN))
    asked_and_answered(conversation, fake_index, ETNA)
    copied = copy.deepcopy(conversation)
    assert isinstance(copied, SavedConversation) and copied is not conversation
    assert (copied.owner, copied.id) == (ANN, conversation.id)
    assert turns_of(copied) == turns_of(conversation)


def test_another_tab_sees_what_one_tab_asked(sessions: Sessions, fake_index: qa.Index) -> None:
    one = saved(sessions.open(ANN))
    other = saved(sessions.open(ANN))
    assert turns_of(other) == ()
    asked_and_answered(one, fake_index, ETNA)
    (seen,) = turns_of(other)
    assert seen == turns_of(one)[0]
    version = other.view()[2]
    # Nothing changed since: the same version.
    assert other.view()[2] == version


# -- the list: new, switch, rename, delete -----------------------------------------------------------------------


def test_new_opens_an_empty_conversation_and_the_list_shows_the_latest_first(
    folder: Path, sessions: Sessions, fake_index: qa.Index
) -> None:
    first = saved(sessions.open(ANN))
    asked_and_answered(first, fake_index, ETNA)
    second = saved(sessions.new(ANN))
    assert second.id != first.id and turns_of(second) == ()
    assert saved(Sessions(folder).open(ANN)).id == second.id
    asked_and_answered(second, fake_index, BAKERY, DANUBE)

    listed = sessions.summaries(ANN)
    assert [(s.id, s.title, s.turns) for s in listed] == [(second.id, BAKERY, 2), (first.id, ETNA, 1)]


def test_switch_opens_an_earlier_conversation(folder: Path, sessions: Sessions, fake_index: qa.Index) -> None:
    first = saved(sessions.open(ANN))
    before = asked_and_answered(first, fake_index, ETNA)
    saved(sessions.new(ANN))
    switched = saved(sessions.switch(ANN, first.id))
    assert switched.id == first.id and turns_of(switched) == before
    # The one opened last is the one a reload opens.
    assert saved(Sessions(folder).open(ANN)).id == first.id


def test_switch_to_nothing_of_theirs_is_none_and_changes_nothing(sessions: Sessions) -> None:
    open_now = saved(sessions.open(ANN))
    gone = saved(sessions.new(ANN))
    sessions.delete(ANN, gone.id)
    sessions.switch(ANN, open_now.id)
    for target in (None, 7, ["x"], "f" * 32, gone.id):
        assert sessions.switch(ANN, target) is None
    # A malformed id opens nothing either (refused or None).
    with contextlib.suppress(QueryError):
        assert sessions.switch(ANN, "../../etc") is None
    assert sessions.store.open_of(ANN) == open_now.id


def test_rename_gives_a_title_of_ones_own(folder: Path, sessions: Sessions, fake_index: qa.Index) -> None:
    conversation = saved(sessions.open(ANN))
    asked_and_answered(conversation, fake_index, ETNA)
    sessions.rename(ANN, conversation.id, "  Sicily\n trip  ")
    assert [s.title for s in Sessions(folder).summaries(ANN)] == ["Sicily trip"]
    # Later questions do not change a title once set.
    asked_and_answered(conversation, fake_index, BAKERY)
    assert [s.title for s in sessions.summaries(ANN)] == ["Sicily trip"]


@pytest.mark.parametrize("title", ["", "   ", None, 42])
def test_a_blank_or_non_text_title_is_refused(sessions: Sessions, title: object) -> None:
    conversation = saved(sessions.open(ANN))
    with pytest.raises(QueryError):
        sessions.rename(ANN, conversation.id, title)


def test_rename_of_a_missing_conversation_is_refused(sessions: Sessions) -> None:
    sessions.open(ANN)
    with pytest.raises(QueryError):
        sessions.rename(ANN, "e" * 32, "Title")


def test_delete_removes_the_conversation_and_the_next_open_starts_a_new_one(
    folder: Path, sessions: Sessions, fake_index: qa.Index
) -> None:
    conversation = saved(sessions.open(ANN))
    asked_and_answered(conversation, fake_index, ETNA)
    sessions.delete(ANN, conversation.id)
    assert sessions.summaries(ANN) == []
    assert sessions.store.load(ANN, conversation.id) is None
    fresh = saved(Sessions(folder).open(ANN))
    assert fresh.id != conversation.id and turns_of(fresh) == ()
    with pytest.raises(QueryError):
        sessions.delete(ANN, conversation.id)


def test_another_owner_cannot_switch_to_rename_or_delete_a_conversation(
    sessions: Sessions, fake_index: qa.Index
) -> None:
    ann = saved(sessions.open(ANN))
    before = asked_and_answered(ann, fake_index, ETNA)
    bob = saved(sessions.open(BOB))

    assert sessions.switch(BOB, ann.id) is None
    with pytest.raises(QueryError):
        sessions.rename(BOB, ann.id, "Mine now")
    with pytest.raises(QueryError):
        sessions.delete(BOB, ann.id)

    assert sessions.store.open_of(BOB) == bob.id
    assert [(s.id, s.title) for s in sessions.summaries(ANN)] == [(ann.id, ETNA)]
    assert turns_of(saved(sessions.open(ANN))) == before
    # A conversation bound to the wrong owner reads nothing of it either.
    assert turns_of(SavedConversation(sessions.store, BOB, ann.id)) == ()


# -- two tabs at once --------------------------------------------------------------------------------------------


def test_two_tabs_asking_at_once_lose_no_turn_and_answer_each_once(
    folder: Path, sessions: Sessions, fake_index: qa.Index
) -> None:
    counter, index = counting(fake_index)
    tabs = [saved(sessions.open(ANN)), saved(sessions.open(ANN))]
    assert tabs[0].id == tabs[1].id
    questions = [[f"{subject} question {n}?" for n in range(6)] for subject in ("Etna", "Danube")]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(tab: SavedConversation, mine: list[str]) -> None:
        try:
            start.wait()
            for question in mine:
                tab.ask(question, (), limit=2000)
                tab.view()
                tab.answer_pending(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(tab, mine)) for tab, mine in zip(tabs, questions, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Each tab answers what it still finds pending (turns the other tab asked meanwhile too).
    for tab in tabs:
        tab.view()
        tab.answer_pending(index)

    everything = sorted(q for mine in questions for q in mine)
    final = turns_of(saved(Sessions(folder).open(ANN)))
    assert [t.id for t in final] == list(range(12))
    assert sorted(t.question for t in final) == everything
    assert not any(t.pending for t in final)
    assert counter.asked == Counter(everything)


def test_a_turn_answered_in_another_tab_is_not_answered_again(sessions: Sessions, fake_index: qa.Index) -> None:
    counter, index = counting(fake_index)
    one, other = saved(sessions.open(ANN)), saved(sessions.open(ANN))
    one.ask(ETNA, (), limit=2000)
    # The other tab shows the question while it is still pending ...
    (shown,) = turns_of(other)
    assert shown.pending
    # ... then the first tab answers it, and the other tab is asked to answer what it has pending.
    assert one.answer_pending(index)
    other.answer_pending(index)
    assert counter.asked == Counter({ETNA: 1})
    (seen,) = turns_of(other)
    assert seen == turns_of(one)[0] and not seen.pending


def test_a_turn_claimed_by_another_tab_is_left_to_it(sessions: Sessions, fake_index: qa.Index) -> None:
    counter, index = counting(fake_index)
    one, other = saved(sessions.open(ANN)), saved(sessions.open(ANN))
    turn = one.ask(ETNA, (), limit=2000)
    turns_of(other)
    # Another tab (or server process) is answering it now.
    assert sessions.store.claim(ANN, one.id, turn.id, "someone-else", now=1e12)
    assert not other.answer_pending(index)
    assert counter.asked == Counter()
    assert turns_of(other)[0].pending


# -- when the store fails ----------------------------------------------------------------------------------------


def failing(message: str) -> Callable[..., Any]:
    def fail(*_args: object, **_kwargs: object) -> Any:
        raise IndexAccessError(message)

    return fail


def test_a_store_that_cannot_be_written_leaves_the_conversation_in_the_page(
    sessions: Sessions, fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = saved(sessions.open(ANN))
    turns_of(conversation)
    assert conversation.problem == ""
    for method in ("add_turn", "put_turn", "set_vote", "claim", "release"):
        monkeypatch.setattr(sessions.store, method, failing("disk is full"))

    turn = conversation.ask(ETNA, (), limit=2000)
    assert turn.question == ETNA and turn.pending
    assert "could not be saved" in conversation.problem and "disk is full" in conversation.problem
    assert "this page only" in conversation.problem
    conversation.problem = ""

    assert conversation.answer_pending(fake_index)
    (answered,) = turns_of(conversation)
    assert answered.answer is not None and answered.answer.found
    # Said once: from the first failure on, the conversation goes on in the page only.
    assert conversation.detached and conversation.problem == ""

    assert conversation.vote(answered.id, "q1", "up")
    assert conversation.view()[1] == {(answered.id, "q1"): "up"}
    assert conversation.problem == ""
    # Nothing reached the store.
    monkeypatch.undo()
    stored = sessions.store.load(ANN, conversation.id)
    assert stored is not None and stored.turns == () and stored.votes == {}


def test_a_question_not_saved_once_is_still_answered(
    sessions: Sessions, fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = saved(sessions.open(ANN))
    turns_of(conversation)
    # The store is busy for one write only (another process held it too long).
    add_turn = sessions.store.add_turn
    calls: list[int] = []

    def busy_once(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise IndexAccessError("conversations cannot be saved right now (database is locked)")
        return add_turn(*args, **kwargs)

    monkeypatch.setattr(sessions.store, "add_turn", busy_once)
    conversation.ask(ETNA, (), limit=2000)
    assert "database is locked" in conversation.problem
    conversation.answer_pending(fake_index)
    (turn,) = turns_of(conversation)
    assert not turn.pending
    assert turn.answer is not None and turn.answer.found


def test_a_question_not_saved_stays_on_the_page_when_the_next_one_is_saved(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = saved(sessions.open(ANN))
    turns_of(conversation)
    monkeypatch.setattr(sessions.store, "add_turn", failing("database is locked"))
    unsaved = conversation.ask(ETNA, (), limit=2000)
    monkeypatch.undo()
    later = conversation.ask(BAKERY, (), limit=2000)
    assert later.id != unsaved.id
    assert [t.question for t in turns_of(conversation)] == [ETNA, BAKERY]


def test_a_store_that_cannot_be_read_keeps_the_page_as_it_was(
    sessions: Sessions, fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = saved(sessions.open(ANN))
    before = asked_and_answered(conversation, fake_index, ETNA)
    assert conversation.problem == ""
    monkeypatch.setattr(sessions.store, "version", failing("database is locked"))
    monkeypatch.setattr(sessions.store, "load", failing("database is locked"))
    assert turns_of(conversation) == before
    assert "database is locked" in conversation.problem


def test_sessions_report_an_unreadable_store(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch, fake_index: qa.Index
) -> None:
    # Opening is not done in memory: the caller (the page) says so and goes on unsaved.
    asked_and_answered(saved(sessions.open(ANN)), fake_index, ETNA)
    monkeypatch.setattr(sessions.store, "open_of", failing("database is locked"))
    with pytest.raises(IndexAccessError, match="database is locked"):
        sessions.open(ANN)
