"""Saved conversations: round trips, turn ids, votes, ownership, titles, bad input, damage, and concurrent writers."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT

from qa.errors import IndexAccessError, IndexCorruptError, IndexMismatchError, QueryError
from qa.store import conversations as module
from qa.store.conversations import CONVERSATIONS, TITLE_CHARS, ConversationStore

OWNER, OTHER = "browser:3f2a", "user:alice"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def store(folder: Path) -> ConversationStore:
    return ConversationStore(folder)


@pytest.fixture
def cid(store: ConversationStore) -> str:
    return store.create(OWNER)


def turn(text: str) -> Callable[[int], str]:
    """The ``data`` of :meth:`ConversationStore.add_turn`: JSON naming the turn id it was given."""
    return lambda turn_id: json.dumps({"id": turn_id, "text": text})


def test_nothing_is_created_until_the_first_write(folder: Path, store: ConversationStore) -> None:
    assert store.summaries(OWNER) == []
    assert store.load(OWNER, "0" * 32) is None
    assert store.version(OWNER, "0" * 32) is None
    assert store.open_of(OWNER) is None
    assert not folder.exists()
    store.create(OWNER)
    # Its own file, never the index's database.
    assert {p.name for p in folder.iterdir()} <= {CONVERSATIONS, f"{CONVERSATIONS}-wal", f"{CONVERSATIONS}-shm"}


def test_create_add_list_and_load_round_trip(store: ConversationStore) -> None:
    first = store.create(OWNER, "First")
    second = store.create(OWNER)
    assert len(first) == 32 and int(first, 16) >= 0 and first != second
    assert store.version(OWNER, second) == 0
    assert [store.add_turn(OWNER, first, turn(f"q{n}")) for n in range(3)] == [0, 1, 2]
    assert store.add_turn(OWNER, second, turn("hello"), title="Greeting") == 0

    saved = store.load(OWNER, first)
    assert saved is not None
    assert saved.id == first and saved.title == "First"
    assert saved.turns == tuple((n, json.dumps({"id": n, "text": f"q{n}"})) for n in range(3))
    assert saved.votes == {} and saved.version == 3 and saved.next_turn == 3

    listed = store.summaries(OWNER)
    # The conversation with the latest turn comes first.
    assert [(s.id, s.title, s.turns) for s in listed] == [(second, "Greeting", 1), (first, "First", 3)]
    assert listed[0].updated >= listed[0].created
    assert listed[1].updated > listed[1].created
    assert store.summaries(OWNER, limit=1) == listed[:1]
    assert store.summaries(OWNER, limit=0) == []


def test_add_turn_sets_the_title_only_when_there_is_none(store: ConversationStore, cid: str) -> None:
    store.add_turn(OWNER, cid, turn("a"))
    assert store.summaries(OWNER)[0].title == ""
    store.add_turn(OWNER, cid, turn("b"), title="  What is\tEtna? ")
    store.add_turn(OWNER, cid, turn("c"), title="Another title")
    assert store.summaries(OWNER)[0].title == "What is Etna?"


def test_put_turn_replaces_the_json_and_bumps_the_version(store: ConversationStore, cid: str) -> None:
    store.add_turn(OWNER, cid, turn("pending"))
    assert store.put_turn(OWNER, cid, 0, '{"answer": "done"}') is True
    saved = store.load(OWNER, cid)
    assert saved is not None and saved.turns == ((0, '{"answer": "done"}'),) and saved.version == 2
    assert store.put_turn(OWNER, cid, 1, "{}") is False
    assert store.put_turn(OTHER, cid, 0, "{}") is False
    assert store.version(OWNER, cid) == 2
    store.delete(OWNER, cid)
    assert store.put_turn(OWNER, cid, 0, "{}") is False


def test_ids_are_given_in_order_and_never_reused_after_trimming(
    store: ConversationStore, cid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "MAX_TURNS", 3)
    store.add_turn(OWNER, cid, turn("t0"))
    store.add_turn(OWNER, cid, turn("t1"))
    store.set_vote(OWNER, cid, 0, "q1", "up")
    store.set_vote(OWNER, cid, 1, "q1", "down")
    ids = [store.add_turn(OWNER, cid, turn(f"t{n}")) for n in range(2, 6)]
    assert ids == [2, 3, 4, 5]
    saved = store.load(OWNER, cid)
    assert saved is not None
    assert [t for t, _ in saved.turns] == [3, 4, 5]
    assert [json.loads(data)["text"] for _, data in saved.turns] == ["t3", "t4", "t5"]
    # The votes of dropped turns went with them.
    assert saved.votes == {}
    assert saved.next_turn == 6 and saved.version == 8
    assert store.summaries(OWNER)[0].turns == 3
    assert store.put_turn(OWNER, cid, 1, "{}") is False
    with pytest.raises(QueryError, match="no such turn"):
        store.set_vote(OWNER, cid, 1, "q1", "up")
    assert store.add_turn(OWNER, cid, turn("t6")) == 6


def test_votes_are_set_changed_and_taken_back(store: ConversationStore, cid: str) -> None:
    store.add_turn(OWNER, cid, turn("q"))
    store.add_turn(OWNER, cid, turn("r"))

    def state() -> tuple[dict[tuple[int, str], str], int]:
        saved = store.load(OWNER, cid)
        assert saved is not None
        return saved.votes, saved.version

    store.set_vote(OWNER, cid, 0, "q1", "up")
    store.set_vote(OWNER, cid, 1, "m2", "down")
    assert state() == ({(0, "q1"): "up", (1, "m2"): "down"}, 4)
    store.set_vote(OWNER, cid, 0, "q1", "down")
    assert state() == ({(0, "q1"): "down", (1, "m2"): "down"}, 5)
    # The same vote again, or taking back a vote never given, changes nothing.
    store.set_vote(OWNER, cid, 0, "q1", "down")
    store.set_vote(OWNER, cid, 0, "q9", None)
    assert state()[1] == 5
    store.set_vote(OWNER, cid, 0, "q1", None)
    assert state() == ({(1, "m2"): "down"}, 6)
    with pytest.raises(QueryError, match="no such turn"):
        store.set_vote(OWNER, cid, 7, "q1", "up")


def test_another_owners_conversation_is_invisible(store: ConversationStore, cid: str) -> None:
    store.add_turn(OWNER, cid, turn("mine"), title="Mine")
    theirs = store.create(OTHER, "Theirs")
    assert store.load(OTHER, cid) is None
    assert store.version(OTHER, cid) is None
    assert [s.id for s in store.summaries(OTHER)] == [theirs]
    assert [s.id for s in store.summaries(OWNER)] == [cid]
    writes: list[Callable[[], object]] = [
        lambda: store.add_turn(OTHER, cid, turn("x")),
        lambda: store.set_vote(OTHER, cid, 0, "q1", "up"),
        lambda: store.rename(OTHER, cid, "Stolen"),
        lambda: store.delete(OTHER, cid),
        lambda: store.set_open(OTHER, cid),
    ]
    for write in writes:
        with pytest.raises(QueryError, match="no such conversation"):
            write()
    assert store.put_turn(OTHER, cid, 0, "{}") is False
    assert store.claim(OTHER, cid, 0, "tab", now=0.0) is False
    store.release(OTHER, cid, 0, "tab")
    saved = store.load(OWNER, cid)
    assert saved is not None and saved.title == "Mine" and saved.version == 1 and saved.votes == {}
    assert saved.turns == ((0, json.dumps({"id": 0, "text": "mine"})),)
    assert store.open_of(OTHER) is None


def test_rename_delete_and_the_open_conversation(store: ConversationStore, cid: str) -> None:
    other = store.create(OWNER)
    store.rename(OWNER, cid, "New name")
    assert store.summaries(OWNER, limit=5)[-1].title == "New name"
    assert store.version(OWNER, cid) == 1
    store.rename(OWNER, cid, " New   name ")
    assert store.version(OWNER, cid) == 1
    with pytest.raises(QueryError, match="blank"):
        store.rename(OWNER, cid, " \n\t\x00 ")

    assert store.open_of(OWNER) is None
    store.set_open(OWNER, cid)
    assert store.open_of(OWNER) == cid
    store.set_open(OWNER, other)
    assert store.open_of(OWNER) == other
    store.set_open(OWNER, None)
    assert store.open_of(OWNER) is None

    store.set_open(OWNER, cid)
    store.add_turn(OWNER, cid, turn("q"))
    store.set_vote(OWNER, cid, 0, "q1", "up")
    store.delete(OWNER, cid)
    assert store.load(OWNER, cid) is None and store.version(OWNER, cid) is None
    assert store.open_of(OWNER) is None
    assert [s.id for s in store.summaries(OWNER)] == [other]
    with pytest.raises(QueryError, match="no such conversation"):
        store.delete(OWNER, cid)
    # Its turns and votes are gone from the file, not merely hidden.
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("SELECT count(*) FROM turns WHERE conversation = ?", (cid,)).fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM votes WHERE conversation = ?", (cid,)).fetchone() == (0,)


def test_each_owner_keeps_the_most_recently_updated_conversations(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "MAX_CONVERSATIONS", 3)
    first, second, third = (store.create(OWNER) for _ in range(3))
    theirs = store.create(OTHER)
    store.add_turn(OWNER, first, turn("keeps the first one recent"))
    fourth = store.create(OWNER)
    assert {s.id for s in store.summaries(OWNER)} == {first, third, fourth}
    assert store.load(OWNER, second) is None
    assert [s.id for s in store.summaries(OTHER)] == [theirs]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Mount \n\n Etna\t erupts  ", "Mount Etna erupts"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("right\u202eto-left", "rightto-left"),
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", "family \U0001f468\u200d\U0001f469\u200d\U0001f467"),
        ("x" * (TITLE_CHARS + 50), "x" * TITLE_CHARS),
        ("a" * (TITLE_CHARS - 1) + " b", "a" * (TITLE_CHARS - 1)),
        ("lone \ud800 surrogate", "lone surrogate"),
    ],
)
def test_titles_are_cleaned(store: ConversationStore, given: str, stored: str) -> None:
    cid = store.create(OWNER, given)
    assert store.summaries(OWNER)[0].title == stored
    store.rename(OWNER, cid, "placeholder")
    store.rename(OWNER, cid, given)
    saved = store.load(OWNER, cid)
    assert saved is not None and saved.title == stored


BAD_CALLS: dict[str, Callable[[ConversationStore, str], object]] = {
    "empty owner": lambda s, c: s.create(""),
    "owner not text": lambda s, c: s.summaries(7),  # type: ignore[arg-type]
    "owner too long": lambda s, c: s.load("u" * 257, c),
    "owner not Unicode": lambda s, c: s.create("user:\ud800"),
    "short id": lambda s, c: s.load(OWNER, "abc"),
    "upper-case id": lambda s, c: s.version(OWNER, c.upper()),
    "id not hex": lambda s, c: s.add_turn(OWNER, "g" * 32, turn("x")),
    "id not text": lambda s, c: s.delete(OWNER, 12),  # type: ignore[arg-type]
    "open id": lambda s, c: s.set_open(OWNER, "nope"),
    "negative turn": lambda s, c: s.put_turn(OWNER, c, -1, "{}"),
    "bool turn": lambda s, c: s.set_vote(OWNER, c, True, "q1", "up"),
    "float turn": lambda s, c: s.claim(OWNER, c, 1.0, "t", now=0.0),  # type: ignore[arg-type]
    "huge turn": lambda s, c: s.release(OWNER, c, 2**63, "t"),
    "empty key": lambda s, c: s.set_vote(OWNER, c, 0, "", "up"),
    "long key": lambda s, c: s.set_vote(OWNER, c, 0, "k" * 17, "up"),
    "bad vote": lambda s, c: s.set_vote(OWNER, c, 0, "q1", "sideways"),
    "blank rename": lambda s, c: s.rename(OWNER, c, "   "),
    "title not text": lambda s, c: s.create(OWNER, None),  # type: ignore[arg-type]
    "data not text": lambda s, c: s.add_turn(OWNER, c, lambda _: 5),  # type: ignore[arg-type,return-value]
    "data not Unicode": lambda s, c: s.add_turn(OWNER, c, lambda _: '"\ud800"'),
    "put data not text": lambda s, c: s.put_turn(OWNER, c, 0, b"{}"),  # type: ignore[arg-type]
    "data too long": lambda s, c: s.put_turn(OWNER, c, 0, "x" * 5_000_001),
    "negative limit": lambda s, c: s.summaries(OWNER, limit=-1),
    "empty token": lambda s, c: s.claim(OWNER, c, 0, "", now=0.0),
    "nan now": lambda s, c: s.claim(OWNER, c, 0, "t", now=math.nan),
    "negative ttl": lambda s, c: s.claim(OWNER, c, 0, "t", now=0.0, ttl=-1),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_input_is_a_query_error_and_changes_nothing(
    store: ConversationStore, cid: str, call: Callable[[ConversationStore, str], object]
) -> None:
    store.add_turn(OWNER, cid, turn("q"))
    before = store.load(OWNER, cid)
    with pytest.raises(QueryError):
        call(store, cid)
    assert store.load(OWNER, cid) == before
    assert [s.id for s in store.summaries(OWNER)] == [cid]


def test_a_failing_serialiser_stores_nothing(store: ConversationStore, cid: str) -> None:
    def broken(turn_id: int) -> str:
        raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError):
        store.add_turn(OWNER, cid, broken)
    assert store.add_turn(OWNER, cid, turn("ok")) == 0
    assert store.version(OWNER, cid) == 1


def test_a_damaged_file_is_a_clear_error_for_reads_and_writes(folder: Path, store: ConversationStore) -> None:
    folder.mkdir()
    (folder / CONVERSATIONS).write_bytes(b"this is not an SQLite database\n" * 100)
    calls: list[Callable[[], object]] = [
        lambda: store.summaries(OWNER),
        lambda: store.load(OWNER, "0" * 32),
        lambda: store.version(OWNER, "0" * 32),
        lambda: store.open_of(OWNER),
        lambda: store.create(OWNER),
        lambda: store.set_open(OWNER, None),
    ]
    for call in calls:
        with pytest.raises(IndexCorruptError, match="move or delete it") as caught:
            call()
        assert str(folder / CONVERSATIONS) in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_file_of_another_format_is_refused(store: ConversationStore, cid: str) -> None:
    with sqlite3.connect(store.path) as raw:
        raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(IndexMismatchError, match="format '99'"):
        store.load(OWNER, cid)
    with pytest.raises(IndexMismatchError):
        store.create(OWNER)


def test_a_locked_file_is_an_access_error(store: ConversationStore, cid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "_BUSY_TIMEOUT_MS", 50)
    raw = sqlite3.connect(store.path, isolation_level=None)
    try:
        raw.execute("BEGIN EXCLUSIVE")
        with pytest.raises(IndexAccessError, match="cannot be saved right now"):
            store.add_turn(OWNER, cid, turn("q"))
        # In WAL mode readers still see the last commit.
        assert store.version(OWNER, cid) == 0
    finally:
        raw.close()
    assert store.add_turn(OWNER, cid, turn("q")) == 0


def test_threads_adding_turns_at_once_get_distinct_consecutive_ids(
    store: ConversationStore, cid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "MAX_TURNS", 1000)
    threads, each = 8, 25
    start = threading.Barrier(threads + 1)
    done = threading.Event()
    seen: list[str] = []

    def writer(number: int) -> list[int]:
        start.wait()
        return [store.add_turn(OWNER, cid, turn(f"{number}:{n}")) for n in range(each)]

    def reader() -> None:
        # A reader during the writes always sees one committed state.
        start.wait()
        while not done.is_set():
            saved = store.load(OWNER, cid)
            assert saved is not None
            if not (len(saved.turns) == saved.version == saved.next_turn):
                seen.append(f"torn state {len(saved.turns)} {saved.version} {saved.next_turn}")

    with ThreadPoolExecutor(threads + 1) as pool:
        watcher = pool.submit(reader)
        results = [pool.submit(writer, n) for n in range(threads)]
        try:
            ids = [turn_id for result in results for turn_id in result.result()]
        finally:
            # Stopped even when a writer failed, so that the failure is reported, not a hang.
            done.set()
        watcher.result()
    assert seen == []
    assert sorted(ids) == list(range(threads * each))
    saved = store.load(OWNER, cid)
    assert saved is not None
    assert [t for t, _ in saved.turns] == list(range(threads * each))
    stored = {json.loads(data)["text"]: t for t, data in saved.turns}
    assert set(stored) == {f"{n}:{k}" for n in range(threads) for k in range(each)}
    # Each turn holds the id it was given, and one thread's turns are in its own order.
    assert all(json.loads(data)["id"] == t for t, data in saved.turns)
    for n in range(threads):
        assert [stored[f"{n}:{k}"] for k in range(each)] == sorted(stored[f"{n}:{k}"] for k in range(each))
    assert saved.version == threads * each and saved.next_turn == threads * each


ADDER = """
import json, sys, time
from pathlib import Path
from qa.store.conversations import ConversationStore
folder, cid, name, count, go = sys.argv[1:]
store = ConversationStore(Path(folder))
while not Path(go).exists():
    time.sleep(0.005)
ids = [store.add_turn("browser:3f2a", cid, lambda t, n=n: json.dumps({"id": t, "text": f"{name}:{n}"}))
       for n in range(int(count))]
print(json.dumps(ids))
"""


def test_processes_adding_turns_at_once_never_collide(store: ConversationStore, cid: str, tmp_path: Path) -> None:
    processes, each, go = 3, 30, tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(store.folder), cid]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, *args, f"p{n}", str(each), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for n in range(processes)
    ]
    time.sleep(0.2)
    go.touch()
    ids: list[int] = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        ids += json.loads(out)
    assert sorted(ids) == list(range(processes * each))
    saved = store.load(OWNER, cid)
    assert saved is not None
    assert [json.loads(data)["id"] for _, data in saved.turns] == list(range(processes * each))
    assert {json.loads(data)["text"] for _, data in saved.turns} == {
        f"p{n}:{k}" for n in range(processes) for k in range(each)
    }
    assert saved.version == processes * each


def test_of_many_racing_claimers_exactly_one_wins(store: ConversationStore, cid: str) -> None:
    store.add_turn(OWNER, cid, turn("pending"))
    racers = 16
    start = threading.Barrier(racers)

    def race(number: int) -> bool:
        start.wait()
        return store.claim(OWNER, cid, 0, f"tab-{number}", now=100.0)

    with ThreadPoolExecutor(racers) as pool:
        won = list(pool.map(race, range(racers)))
    assert won.count(True) == 1
    winner = f"tab-{won.index(True)}"
    loser = f"tab-{(won.index(True) + 1) % racers}"
    # The holder may claim again (renewing); others wait until the claim is older than ttl.
    assert store.claim(OWNER, cid, 0, winner, now=150.0)
    assert not store.claim(OWNER, cid, 0, loser, now=200.0, ttl=120.0)
    assert store.claim(OWNER, cid, 0, loser, now=270.0, ttl=120.0)
    assert not store.claim(OWNER, cid, 0, winner, now=271.0)
    # Only the holder's release frees the turn.
    store.release(OWNER, cid, 0, winner)
    assert not store.claim(OWNER, cid, 0, "tab-x", now=272.0)
    store.release(OWNER, cid, 0, loser)
    assert store.claim(OWNER, cid, 0, "tab-x", now=273.0)
    # Claims are no change of the conversation, and a missing turn cannot be claimed.
    assert store.version(OWNER, cid) == 1
    assert not store.claim(OWNER, cid, 5, winner, now=0.0)
