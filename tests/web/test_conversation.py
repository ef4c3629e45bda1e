"""The chat's conversation without the web (qa.web.conversation): turns, votes, answering, staleness, export.

Answering uses a stub index (its ``answer`` and ``manifest.files`` are all a conversation needs), so
that the order of calls, the history passed and each turn's fate can be checked exactly, also
while several threads ask, vote and answer on one conversation at once.
"""

from __future__ import annotations

import copy
import html
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import cast

import pytest
from markdown_it import MarkdownIt

from qa.answer.compose import Answer
from qa.answer.quotes import Quote
from qa.errors import QueryError
from qa.index import Index
from qa.text.passages import Passage, text_sha256
from qa.web import conversation as chat
from qa.web.conversation import (
    Conversation,
    Notice,
    Turn,
    answered_turn,
    export_markdown,
    history,
    markdown_text,
    quote_key,
    quote_text,
    stale_quotes,
)


def passage(source: str, text: str = "Etna erupts often.", paragraph: int = 1) -> Passage:
    return Passage(source, paragraph, 1, 1, 0, len(text), text, f"{paragraph:064d}")


def quote(rank: int, source: str = "volcano.txt", *, text: str = "Etna erupts often.", title: str = "") -> Quote:
    return Quote(passage(source, text), 0.9 - rank / 100, rank, f"corpus/{source} ¶1 (line 1)", title=title)


def answer(
    quotes: Sequence[Quote] = (), more: Sequence[Quote] = (), *, message: str = "Found it.", searched: str = ""
) -> Answer:
    return Answer("q", bool(quotes), tuple(quotes), message, more=tuple(more), searched=searched)


class StubIndex:
    """Answers each question with one quote from ``volcano.txt``; records each call; fails where told."""

    def __init__(
        self,
        files: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
        passages: dict[str, list[Passage]] | None = None,
    ) -> None:
        self.manifest = SimpleNamespace(files=files if files is not None else {"volcano.txt": "v1"})
        self.passages = passages or {}
        self.delay = delay
        self.failures: dict[str, Exception] = {}
        self.calls: list[tuple[str, object, list[str] | None]] = []
        self._lock = threading.Lock()

    def passages_of(self, source: str) -> list[Passage]:
        return self.passages.get(source, [])

    def answer(self, question: str, *, sources: object = None, history: list[str] | None = None) -> Answer:
        with self._lock:
            self.calls.append((question, sources, None if history is None else list(history)))
        if self.delay:
            time.sleep(self.delay)
        if question in self.failures:
            raise self.failures[question]
        return answer([quote(1)], searched=f"expanded {question}")


def as_index(stub: StubIndex) -> Index:
    return cast(Index, stub)


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads often, so that races show up in a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


# -- turns -------------------------------------------------------------------------------------


def test_a_turn_is_pending_until_it_has_an_answer_or_an_error() -> None:
    assert Turn(0, "q").pending
    assert not Turn(0, "q", error="failed").pending
    assert not Turn(0, "q", answer=answer()).pending


def test_a_turns_passages_are_its_quotes_then_the_further_ones() -> None:
    quotes, more = [quote(1), quote(2)], [quote(3), quote(4)]
    assert Turn(0, "q").quotes() == ()
    assert Turn(0, "q", answer=answer(quotes, more)).quotes() == (*quotes, *more)


def test_a_quote_is_found_by_its_key() -> None:
    first, further = quote(1), quote(2)
    turn = Turn(0, "q", answer=answer([first], [further]))
    assert turn.quote("q1") is first
    assert turn.quote("m2") is further
    # Each key names its own group: rank 2 is not a quote, rank 1 not a further passage.
    assert turn.quote("q2") is None and turn.quote("m1") is None


@pytest.mark.parametrize("key", ["x1", "q", "1", "q1000", " q1", "q1 ", "Q1", "q-1", "q\u00b9", 1, None, ("q", 1)])
def test_a_malformed_quote_key_finds_nothing(key: object) -> None:
    assert Turn(0, "q", answer=answer([quote(1)])).quote(key) is None


def test_a_turn_without_an_answer_finds_no_quote() -> None:
    assert Turn(0, "q").quote("q1") is None


def test_every_quote_is_found_again_by_the_key_it_is_given() -> None:
    turn = Turn(0, "q", answer=answer([quote(1), quote(2)], [quote(3)]))
    assert turn.answer is not None
    for prefix, group in (("q", turn.answer.quotes), ("m", turn.answer.more)):
        for each in group:
            assert quote_key(prefix, each) == f"{prefix}{each.rank}"
            assert turn.quote(quote_key(prefix, each)) is each


def test_history_is_the_questions_as_typed_without_the_failed_ones() -> None:
    turns = [
        Turn(0, "Where does the Danube flow?", searched="Where does the Danube flow?", answer=answer()),
        Turn(1, "and the Rhine?", searched="and the Rhine? Where does the Rhine flow?", answer=answer()),
        Turn(2, "broken", error="the question is empty"),
        Turn(3, "still searching"),
    ]
    assert history(turns) == ["Where does the Danube flow?", "and the Rhine?", "still searching"]


# -- asking and voting -------------------------------------------------------------------------


def test_asking_adds_a_pending_turn_with_the_next_id() -> None:
    conversation = Conversation()
    before = time.time()
    first = conversation.ask("  Where does the Danube flow?  ")
    second = conversation.ask("Who bakes bread?", ["bakery.md", "nested/"])
    assert (first.id, second.id) == (0, 1)
    assert first.question == "Where does the Danube flow?" and first.pending and first.searched == ""
    assert second.sources == ("bakery.md", "nested/")
    assert before <= first.asked <= second.asked <= time.time()
    turns, votes, version = conversation.view()
    assert turns == (first, second) and votes == {} and version == 2
    assert conversation.turn(1) == second


def test_a_literal_question_is_searched_as_written() -> None:
    turn = Conversation().ask("  Danube river ", literal=True)
    assert turn.literal and turn.searched == turn.question == "Danube river"


@pytest.mark.parametrize(
    ("question", "sources"),
    [
        ("", ()),
        ("   \n\t", ()),
        ("abcdef", ()),
        (None, ()),
        (b"bytes", ()),
        ("who \ud800", ()),
        ("Etna", "volcano.txt"),
        ("Etna", [1]),
        ("Etna", ["volcano.txt", None]),
    ],
)
def test_a_refused_question_changes_nothing(question: object, sources: object) -> None:
    conversation = Conversation()
    conversation.ask("kept")
    before = conversation.view()
    with pytest.raises(QueryError):
        conversation.ask(question, sources, limit=5)  # type: ignore[arg-type]
    assert conversation.view() == before
    # The refused question took no id.
    assert conversation.ask("next").id == 1


def test_the_length_limit_counts_the_stripped_question() -> None:
    conversation = Conversation()
    assert conversation.ask("  abcde  ", limit=5).question == "abcde"
    with pytest.raises(QueryError, match="limit is 5"):
        conversation.ask("abcdef", limit=5)


def test_a_vote_is_recorded_and_a_new_vote_replaces_it() -> None:
    conversation = Conversation()
    turn = conversation.ask("Etna")
    conversation.vote(turn.id, "q1", "up")
    conversation.vote(turn.id, "m2", "down")
    conversation.vote(turn.id, "q1", "down")
    _, votes, version = conversation.view()
    assert votes == {(turn.id, "q1"): "down", (turn.id, "m2"): "down"}
    assert version == 4


def test_a_view_is_a_copy_the_caller_cannot_change() -> None:
    conversation = Conversation()
    turn = conversation.ask("Etna")
    conversation.vote(turn.id, "q1", "up")
    _, votes, _ = conversation.view()
    votes.clear()
    assert conversation.view()[1] == {(turn.id, "q1"): "up"}


@pytest.mark.parametrize("turn_id", [True, False, "0", 0.0, None, 5, -1])
def test_only_an_int_id_of_a_turn_held_finds_it(turn_id: object) -> None:
    conversation = Conversation()
    conversation.ask("first")
    conversation.ask("second")
    assert conversation.turn(turn_id) is None


def test_a_deep_copy_is_a_new_empty_conversation() -> None:
    conversation = Conversation()
    turn = conversation.ask("Etna")
    conversation.vote(turn.id, "q1", "up")
    copied = copy.deepcopy(conversation)
    assert isinstance(copied, Conversation) and copied.id != conversation.id
    assert copied.view() == ((), {}, 0)
    assert conversation.view()[2] == 2


def test_old_turns_drop_off_but_keep_ids_and_the_votes_of_kept_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat, "MAX_TURNS", 3)
    conversation = Conversation()
    asked = [conversation.ask(f"question {n}") for n in range(3)]
    for turn in asked:
        conversation.vote(turn.id, "q1", "up")
    conversation.ask("question 3")
    conversation.ask("question 4")
    turns, votes, _ = conversation.view()
    assert [t.id for t in turns] == [2, 3, 4]
    assert votes == {(2, "q1"): "up"}
    assert conversation.ask("question 5").id == 5


# -- answering ---------------------------------------------------------------------------------


def test_nothing_pending_means_nothing_answered() -> None:
    stub = StubIndex()
    assert Conversation().answer_pending(as_index(stub)) is False
    assert stub.calls == []


def test_pending_turns_are_answered_oldest_first_with_the_earlier_questions() -> None:
    conversation = Conversation()
    for question in ("Where does the Danube flow?", "and the Rhine?", "and the Elbe?"):
        conversation.ask(question)
    stub = StubIndex()
    assert conversation.answer_pending(as_index(stub)) is True
    assert stub.calls == [
        ("Where does the Danube flow?", None, []),
        ("and the Rhine?", None, ["Where does the Danube flow?"]),
        ("and the Elbe?", None, ["Where does the Danube flow?", "and the Rhine?"]),
    ]
    turns, _, version = conversation.view()
    assert all(t.answer is not None for t in turns)
    assert [t.searched for t in turns] == [f"expanded {t.question}" for t in turns]
    # Three questions, three answers.
    assert version == 6


def test_a_literal_turn_is_searched_as_written_without_history_and_in_its_sources() -> None:
    conversation = Conversation()
    conversation.ask("Where does the Danube flow?")
    conversation.ask("Danube river barges", ["nested/", "bakery.md"], literal=True)
    stub = StubIndex()
    conversation.answer_pending(as_index(stub))
    assert stub.calls[1] == ("Danube river barges", ("nested/", "bakery.md"), None)


def test_a_failed_turn_holds_the_error_and_drops_out_of_the_history() -> None:
    conversation = Conversation()
    for question in ("bad question", "good question"):
        conversation.ask(question)
    stub = StubIndex()
    stub.failures["bad question"] = QueryError("unknown file nope.txt")
    conversation.answer_pending(as_index(stub))
    failed, good = conversation.view()[0]
    assert failed.error == "unknown file nope.txt" and failed.answer is None and not failed.pending
    assert failed.searched == "bad question"
    assert stub.calls[1] == ("good question", None, [])
    assert good.answer is not None


def test_an_unexpected_failure_is_logged_and_shown_as_a_plain_message(caplog: pytest.LogCaptureFixture) -> None:
    stub = StubIndex()
    stub.failures["secret question"] = RuntimeError("internal path /srv/x leaked")
    with caplog.at_level(logging.ERROR, logger=chat.__name__):
        done = answered_turn(Turn(0, "secret question"), as_index(stub), [])
    assert done.error and "leaked" not in done.error and "server log" in done.error
    assert any("secret question" in r.getMessage() and r.exc_info for r in caplog.records)


def test_an_answer_records_the_hash_of_every_cited_file_duplicates_too() -> None:
    cited = quote(1, "a.txt")
    cited = Quote(cited.passage, cited.score, 1, cited.citation, duplicates=(passage("b.txt"),))
    further = quote(2, "c.txt")

    class Citing(StubIndex):
        def answer(self, question: str, *, sources: object = None, history: list[str] | None = None) -> Answer:
            return answer([cited], [further])

    done = answered_turn(Turn(0, "q"), as_index(Citing({"a.txt": "ha", "b.txt": "hb"})), [])
    # Sorted by file; a file the index does not hold has the empty hash.
    assert done.indexed == (("a.txt", "ha"), ("b.txt", "hb"), ("c.txt", ""))
    # An answer that says nothing of what it searched keeps the question.
    assert done.searched == "q"


def test_a_turn_that_drops_off_while_answered_is_not_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat, "MAX_TURNS", 2)
    conversation = Conversation()
    conversation.ask("first")

    class Pushing(StubIndex):
        def answer(self, question: str, *, sources: object = None, history: list[str] | None = None) -> Answer:
            if question == "first":
                # Two questions asked meanwhile push the one being answered off the top.
                conversation.ask("second")
                conversation.ask("third")
            return super().answer(question, sources=sources, history=history)

    stub = Pushing()
    assert conversation.answer_pending(as_index(stub)) is True
    turns, _, version = conversation.view()
    assert [t.id for t in turns] == [1, 2] and all(t.answer is not None for t in turns)
    # The questions asked meanwhile were answered too, each once.
    assert [call[0] for call in stub.calls] == ["first", "second", "third"]
    # Three questions, two answers put in: the dropped turn's answer changed nothing.
    assert version == 5


# -- several threads at once -------------------------------------------------------------------


@pytest.mark.usefixtures("fast_switching")
def test_threads_answering_at_once_answer_each_turn_exactly_once() -> None:
    conversation = Conversation()
    questions = [f"question {n}" for n in range(40)]
    for question in questions:
        conversation.ask(question)
    stub = StubIndex(delay=0.0005)
    start = threading.Barrier(8)
    answered: list[bool] = []

    def work() -> None:
        start.wait()
        answered.append(conversation.answer_pending(as_index(stub)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(call[0] for call in stub.calls) == sorted(questions)
    assert any(answered)
    turns, _, version = conversation.view()
    assert all(t.answer is not None for t in turns)
    assert version == 2 * len(questions)


@pytest.mark.usefixtures("fast_switching")
def test_threads_asking_voting_and_answering_at_once_leave_the_conversation_consistent() -> None:
    conversation = Conversation()
    stub = StubIndex(delay=0.0002)
    workers, each = 8, 12
    start = threading.Barrier(workers + 1)
    finished = threading.Event()
    views: list[tuple[tuple[Turn, ...], dict[tuple[int, str], str], int]] = []
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            for n in range(each):
                turn = conversation.ask(f"question {worker}-{n}")
                conversation.vote(turn.id, "q1", "up" if n % 2 else "down")
                conversation.answer_pending(as_index(stub))
        except BaseException as exc:
            failures.append(exc)

    def watch() -> None:
        start.wait()
        while not finished.is_set():
            views.append(conversation.view())

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    watcher = threading.Thread(target=watch)
    for thread in (*threads, watcher):
        thread.start()
    for thread in threads:
        thread.join()
    finished.set()
    watcher.join()
    assert failures == []

    total = workers * each
    turns, votes, version = conversation.view()
    # Every question got its own id, in the order asked, and nobody was left pending.
    assert [t.id for t in turns] == list(range(total))
    assert sorted(t.question for t in turns) == sorted(f"question {w}-{n}" for w in range(workers) for n in range(each))
    assert all(t.answer is not None and not t.pending for t in turns)
    assert len(votes) == total and set(votes) == {(t.id, "q1") for t in turns}
    # One change per question, per vote and per answer.
    assert version == 3 * total
    # Each question was answered once, with every question asked before it as its history.
    assert sorted(call[0] for call in stub.calls) == sorted(t.question for t in turns)
    by_question = {call[0]: call[2] for call in stub.calls}
    for turn in turns:
        assert by_question[turn.question] == [t.question for t in turns[: turn.id]]
    # Every view seen meanwhile was one consistent state: its version counts exactly the
    # questions, answers and votes it holds, and versions only grow.
    assert views
    for seen_turns, seen_votes, seen_version in views:
        assert [t.id for t in seen_turns] == list(range(len(seen_turns)))
        assert seen_version == len(seen_turns) + sum(not t.pending for t in seen_turns) + len(seen_votes)
    assert [v[2] for v in views] == sorted(v[2] for v in views)


def test_a_turn_is_answered_once_even_if_another_caller_looks_just_after_its_answer() -> None:
    # A turn is let go and its answer put back under one hold of the lock; were they two, a
    # caller looking in between would find it pending with nobody answering it, and answer it
    # again. This replays that interleaving in one thread: the second caller looks right after
    # the first let go.
    conversation = Conversation()
    conversation.ask("only question")
    stub = StubIndex()
    let_go = threading.Event()
    looked = threading.Event()

    class Answering(set[int]):
        def discard(self, item: int) -> None:
            super().discard(item)
            let_go.set()

    class Gated:
        def __init__(self) -> None:
            self._lock = threading.Lock()

        def __enter__(self) -> None:
            self._lock.acquire()

        def __exit__(self, *exc: object) -> None:
            self._lock.release()
            if let_go.is_set() and not looked.is_set():
                looked.set()
                conversation.answer_pending(as_index(stub))

    conversation._lock = Gated()  # type: ignore[assignment]
    conversation._answering = Answering()
    conversation.answer_pending(as_index(stub))
    assert looked.is_set()
    assert [call[0] for call in stub.calls] == ["only question"]
    # One question, one answer.
    assert conversation.view()[2] == 2


# -- stale quotes ------------------------------------------------------------------------------


def test_no_quote_is_stale_while_its_files_are_as_they_were() -> None:
    turn = Turn(0, "q", answer=answer([quote(1, "a.txt")]), indexed=(("a.txt", "ha"),))
    assert stale_quotes([turn], as_index(StubIndex({"a.txt": "ha"}))) == {}


def test_quotes_of_a_changed_or_removed_file_are_stale_and_only_those() -> None:
    quotes = [quote(1, "a.txt"), quote(2, "b.txt")]
    more = [quote(3, "a.txt"), quote(4, "c.txt")]
    indexed = (("a.txt", "ha"), ("b.txt", "hb"), ("c.txt", "hc"))
    turn = Turn(7, "q", answer=answer(quotes, more), indexed=indexed)
    # a.txt changed (its paragraph with it), c.txt is gone, b.txt is as it was.
    stale = stale_quotes([turn], as_index(StubIndex({"a.txt": "new", "b.txt": "hb"})))
    assert set(stale) == {(7, "q1"), (7, "m3"), (7, "m4")}
    assert all(not notice.moved for notice in stale.values())


def test_an_edit_elsewhere_in_the_file_leaves_the_quote_alone_and_a_move_is_told_with_the_new_place() -> None:
    def hashed(text: str, paragraph: int, start: int) -> Passage:
        return Passage("a.txt", paragraph, paragraph, paragraph, start, start + len(text), text, text_sha256(text))

    kept, edited, moving = hashed("Etna erupts often.", 1, 0), hashed("Lava cools.", 2, 20), hashed("Ash falls.", 3, 33)
    quotes = [Quote(p, 0.9, n, f"a.txt {p.place}") for n, p in enumerate((kept, edited, moving), start=1)]
    turn = Turn(0, "q", answer=answer(quotes), indexed=(("a.txt", "old"),))
    # Now: paragraph 1 as it was; 2 rewritten; a new paragraph 3 pushed the ash one to 4.
    now = [kept, hashed("Lava cools, then cracks.", 2, 20), hashed("A new one.", 3, 46), hashed("Ash falls.", 4, 58)]
    stale = stale_quotes([turn], as_index(StubIndex({"a.txt": "new"}, passages={"a.txt": now})))
    assert set(stale) == {(0, "q2"), (0, "q3")}
    assert stale[(0, "q2")] == Notice()
    assert stale[(0, "q3")] == Notice(moved=True, now="¶4 (line 4)")


def test_a_quote_is_not_stale_when_only_the_file_of_a_duplicate_changed() -> None:
    first = quote(1, "a.txt")
    folded = Quote(first.passage, first.score, 1, first.citation, duplicates=(passage("b.txt"),))
    turn = Turn(0, "q", answer=answer([folded]), indexed=(("a.txt", "ha"), ("b.txt", "hb")))
    assert stale_quotes([turn], as_index(StubIndex({"a.txt": "ha", "b.txt": "edited"}))) == {}


def test_a_file_not_indexed_then_and_not_now_is_not_a_change() -> None:
    turn = Turn(0, "q", answer=answer([quote(1, "a.txt")]), indexed=(("a.txt", ""),))
    assert stale_quotes([turn], as_index(StubIndex({}))) == {}
    # Indexed since: the quote was given before the index held this file as it is now.
    assert set(stale_quotes([turn], as_index(StubIndex({"a.txt": "ha"})))) == {(0, "q1")}


def test_turns_without_an_answer_have_no_stale_quotes() -> None:
    turns = [Turn(0, "q", indexed=(("a.txt", "old"),)), Turn(1, "q", error="failed", indexed=(("a.txt", "old"),))]
    assert stale_quotes(turns, as_index(StubIndex({"a.txt": "new"}))) == {}


# -- copy and export ---------------------------------------------------------------------------


def test_the_copied_quote_is_the_verbatim_text_and_its_citation() -> None:
    plain = quote(1, "a.txt", text="Line one.\nLine two.")
    assert quote_text(plain) == "“Line one.\nLine two.”\n— corpus/a.txt ¶1 (line 1)"
    titled = quote(1, "a.txt", text="Text.", title="The Corner Bakery")
    assert quote_text(titled) == "“Text.”\n— The Corner Bakery — corpus/a.txt ¶1 (line 1)"


def rendered(markdown: str) -> tuple[set[str], str]:
    """The tags Markdown renders to, and the text shown."""
    out = MarkdownIt().render(markdown)
    return set(re.findall(r"<(\w+)", out)), html.unescape(re.sub(r"<[^>]+>", "", out)).strip("\n")


@pytest.mark.parametrize(
    "text",
    [
        "*bold* _it_ `code` [link](http://x) <b>tag</b> & ~~strike~~",
        "# not a heading",
        "1. not a list",
        "- not a bullet",
        "+ nor this",
        "> not a quote",
        "a | table | row",
        "x = y",
        "&amp; an entity written out",
        "back\\slash C:\\path",
        "![image](x.png)",
        "    four spaces would be code",
        "  two spaces kept",
    ],
)
def test_escaped_text_renders_as_written(text: str) -> None:
    tags, shown = rendered(markdown_text(text))
    assert tags == {"p"} and shown == text


def test_a_leading_tab_is_kept_as_written_not_made_a_code_block() -> None:
    # Like leading spaces (&#32;), a leading tab must not make an indented code block.
    tags, shown = rendered(markdown_text("\tindented with a tab"))
    assert tags == {"p"} and shown == "\tindented with a tab"


def test_indentation_after_a_line_break_makes_no_code_block_either() -> None:
    # A source name from an API client may hold line breaks; what follows each is protected too.
    for text in ("a.txt\n\n    injected", "a.txt\r\n\r\n\tinjected", "a.txt\r\r    injected"):
        tags, _ = rendered(markdown_text(text))
        assert "pre" not in tags and "code" not in tags, text


def test_the_export_holds_every_part_of_an_answered_turn_in_order() -> None:
    answered = answer(
        [quote(1, "a.txt", text="First line.\n\nAfter a blank line.", title="Title A")],
        [quote(2, "b.txt", text="More text.")],
        message="Found 1 passage.",
    )
    answered = Answer(
        answered.question, True, answered.quotes, answered.message, ("a.txt changed",), more=answered.more
    )
    turn = Turn(
        3, "Who   runs\nthe bakery?", searched="Who runs the bakery? expanded", sources=("a.txt",), answer=answered
    )
    exported = export_markdown([turn])
    assert exported.endswith("\n") and not exported.endswith("\n\n")
    lines = exported.split("\n")
    assert lines[0] == "# Conversation with the articles"
    expected = [
        "## Who runs the bakery?",
        "Searched for: Who runs the bakery? expanded",
        "Only in: a.txt",
        "Found 1 passage.",
        "> First line.",
        ">",
        "> After a blank line.",
        "— [1] Title A — corpus/a.txt ¶1 (line 1)",
        "### More passages",
        "> More text.",
        "— [2] corpus/b.txt ¶1 (line 1)",
        "Note: a.txt changed",
    ]
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Amina Al-Tamimi (director) opened it in 1952. See Super_Bowl_50.txt ¶3 (lines 4-5)!",
        "Prices rose 3.5% (from $2 to $3) - a lot; R&D said so = fine.",
        "snake_case_name and file_2.txt, C:/path/file.txt",
    ],
)
def test_the_export_reads_as_written_where_markdown_would_not_change_it(text: str) -> None:
    # Prose needs no escapes: the Markdown file is as readable as text as it is rendered.
    assert markdown_text(text) == text
    assert rendered(markdown_text(text)) == ({"p"}, text)


def test_the_export_says_which_turns_failed_or_are_still_searched() -> None:
    turns = [Turn(0, "first?", error="the question is empty"), Turn(1, "second?")]
    exported = export_markdown(turns)
    assert "## first?\n\nError: the question is empty\n" in exported
    assert "## second?\n\n(still searching)\n" in exported
    # Nothing was searched that differs from the question: no "Searched for" line.
    assert "Searched for" not in exported


def test_the_export_renders_hostile_questions_and_quotes_as_written() -> None:
    question = "<script>alert(1)</script> *what* [x](y)?"
    text = "# Not a heading\n1. not a list\n    not code"
    turn = Turn(0, question, answer=answer([quote(1, "we*ird_[name].txt", text=text)], message="Found."))
    page = MarkdownIt().render(export_markdown([turn]))
    assert "<script>" not in page and "<em>" not in page and "<a " not in page and "<code>" not in page
    assert f"<h2>{html.escape(question, quote=False)}</h2>" in page
    assert page.count("<h1>") == 1 and "<ol>" not in page
    shown = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert all(line in shown for line in text.split("\n"))
    assert "corpus/we*ird_[name].txt ¶1 (line 1)" in shown


def test_an_empty_conversation_exports_its_heading_only() -> None:
    assert export_markdown([]) == "# Conversation with the articles\n"
