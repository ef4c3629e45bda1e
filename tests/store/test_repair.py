"""Repairs by a writer: a damaged database set aside and begun afresh, damaged or missing stored vectors re-embedded."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa.errors import IndexAccessError
from qa.store import database as db
from qa.store.codec import encode_vector
from qa.store.repair import Repairs, open_database, verify_vectors

DIMENSION = 256
ASIDE = re.compile(r"index\.db\.damaged-\d{8}-\d{6}")


@pytest.fixture
def messages() -> list[str]:
    return []


@pytest.fixture
def repairs(messages: list[str]) -> Repairs:
    return Repairs(messages.append)


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """A tiny index (three files, six paragraphs, sentence vectors) and a connection to it."""
    folder = qa.build_index(write_corpus(tmp_path / "corpus"), tmp_path / "index", embedder=FakeEmbedder()).folder
    connection = db.connect(folder)
    yield folder, connection
    connection.close()


def filled(folder: Path, count: int = 3000) -> Path:
    """A closed database of ``count`` files whose meta says generation 1."""
    connection = db.connect(folder, create=True)
    with db.transaction(connection):
        db.write_meta(connection, {"generation": 1})
        connection.executemany(
            "INSERT INTO files(source, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
            [(f"file-{n:05d}-" + "y" * 60, n, n, "0" * 64) for n in range(count)],
        )
    connection.close()
    return db.database_path(folder)


def files(connection: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    return {row[0]: (row[1], row[2]) for row in connection.execute("SELECT source, size, sha256 FROM files")}


def marked(connection: sqlite3.Connection) -> set[str]:
    """The files marked to be read again."""
    return {source for source, (size, sha) in files(connection).items() if size == -1 and sha == "damaged"}


def stored(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT sha256 FROM embeddings")}


def window_vector(connection: sqlite3.Connection, source: str) -> str:
    return str(
        connection.execute(
            "SELECT w.sha256 FROM windows w JOIN passages p ON p.id = w.passage_id WHERE p.source = ? LIMIT 1",
            (source,),
        ).fetchone()[0]
    )


# -- Repairs ------------------------------------------------------------------------------------


def test_each_repair_is_reported_and_said_as_it_happens(repairs: Repairs, messages: list[str]) -> None:
    repairs.add("first summary", "First message.")
    repairs.add("second summary", "Second message.")
    assert repairs.done == ["first summary", "second summary"]
    assert messages == ["First message.", "Second message."]


def test_repairs_do_not_share_their_list() -> None:
    one, two = Repairs(print), Repairs(print)
    one.done.append("x")
    assert two.done == []


# -- open_database ------------------------------------------------------------------------------


def test_a_missing_database_is_created_without_any_repair(tmp_path: Path, repairs: Repairs) -> None:
    connection = open_database(tmp_path / "index", repairs, check=True)
    try:
        assert db.read_meta(connection) == {}
        assert connection.execute("SELECT count(*) FROM passages").fetchone()[0] == 0
    finally:
        connection.close()
    assert repairs.done == []


@pytest.mark.parametrize("check", [False, True])
def test_a_healthy_database_is_opened_as_it_is(tmp_path: Path, repairs: Repairs, check: bool) -> None:
    filled(tmp_path / "index")
    connection = open_database(tmp_path / "index", repairs, check=check)
    try:
        assert db.read_facts(connection) == {"generation": 1}
        assert connection.execute("SELECT count(*) FROM files").fetchone()[0] == 3000
    finally:
        connection.close()
    assert repairs.done == [] and sorted(p.name for p in (tmp_path / "index").iterdir()) == [db.DATABASE]


def test_a_database_that_is_not_one_is_set_aside_with_its_log_and_started_afresh(
    tmp_path: Path, repairs: Repairs, messages: list[str]
) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    for suffix, content in [("", b"junk" * 1000), ("-wal", b"old log"), ("-shm", b"old shared memory")]:
        (folder / f"{db.DATABASE}{suffix}").write_bytes(content)
    connection = open_database(folder, repairs, check=False)
    try:
        assert db.read_meta(connection) == {}
    finally:
        connection.close()
    (aside,) = [p for p in folder.iterdir() if ASIDE.fullmatch(p.name)]
    assert aside.read_bytes() == b"junk" * 1000
    assert (folder / f"{aside.name}-wal").read_bytes() == b"old log"
    # SQLite rewrites the shared-memory index as it opens a database; it moves aside all the same.
    assert (folder / f"{aside.name}-shm").is_file()
    assert repairs.done == [f"the damaged database was moved to {aside.name} and rebuilt (0 stored vectors kept)"]
    assert len(messages) == 1 and "not a database" in messages[0] and aside.name in messages[0]


def test_a_truncated_database_is_set_aside(tmp_path: Path, repairs: Repairs) -> None:
    path = filled(tmp_path / "index")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    open_database(tmp_path / "index", repairs, check=False).close()
    (aside,) = [p for p in path.parent.iterdir() if ASIDE.fullmatch(p.name)]
    assert aside.stat().st_size == len(data) // 3 and len(repairs.done) == 1


def test_damage_deep_in_the_file_is_found_only_when_checking(tmp_path: Path, repairs: Repairs) -> None:
    path = filled(tmp_path / "index")
    data = bytearray(path.read_bytes())
    # Garble the middle of some pages of the files table; the meta table stays readable.
    for page in range(60, 70):
        data[page * 4096 + 100 : page * 4096 + 200] = b"\xab" * 100
    path.write_bytes(bytes(data))
    open_database(tmp_path / "index", repairs, check=False).close()
    assert repairs.done == [] and path.read_bytes() == bytes(data)
    connection = open_database(tmp_path / "index", repairs, check=True)
    try:
        assert db.read_meta(connection) == {}
    finally:
        connection.close()
    (aside,) = [p for p in path.parent.iterdir() if ASIDE.fullmatch(p.name)]
    assert aside.read_bytes() == bytes(data)
    (done,) = repairs.done
    assert re.fullmatch(
        rf"the damaged database was moved to {aside.name} and rebuilt \(\d+ stored vectors kept\)", done
    )


def test_a_locked_database_is_an_access_error_and_never_set_aside(
    tmp_path: Path, repairs: Repairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = filled(tmp_path / "index")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(db, "_BUSY_TIMEOUT_MS", 50)
    try:
        for check in (False, True):
            with pytest.raises(IndexAccessError, match="locked"):
                open_database(tmp_path / "index", repairs, check=check)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert repairs.done == []
    assert not any(ASIDE.fullmatch(p.name) for p in path.parent.iterdir())


def test_an_access_problem_raised_after_opening_is_never_damage(
    tmp_path: Path, repairs: Repairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(tmp_path / "index")

    def busy(connection: sqlite3.Connection) -> dict[str, str]:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(db, "read_meta", busy)
    with pytest.raises(IndexAccessError, match="try again"):
        open_database(tmp_path / "index", repairs, check=False)
    assert repairs.done == [] and (tmp_path / "index" / db.DATABASE).is_file()


# -- verify_vectors -----------------------------------------------------------------------------


def test_sound_vectors_need_no_repair(built: tuple[Path, sqlite3.Connection], repairs: Repairs) -> None:
    _, connection = built
    before, vectors = files(connection), stored(connection)
    verify_vectors(connection, DIMENSION, repairs)
    assert repairs.done == [] and files(connection) == before and stored(connection) == vectors


@pytest.mark.parametrize(
    "blob",
    [b"\x00" * 12, encode_vector(np.full(DIMENSION, 0.5)), encode_vector(np.full(DIMENSION, np.nan)), "text"],
    ids=["short", "not-unit", "nan", "text"],
)
def test_a_damaged_window_vector_is_dropped_and_its_file_read_again(
    built: tuple[Path, sqlite3.Connection], repairs: Repairs, messages: list[str], blob: object
) -> None:
    _, connection = built
    others = {source: state for source, state in files(connection).items() if source != "bakery.md"}
    damaged = window_vector(connection, "bakery.md")
    connection.execute("UPDATE embeddings SET vector = ? WHERE sha256 = ?", (blob, damaged))
    verify_vectors(connection, DIMENSION, repairs)
    assert damaged not in stored(connection)
    assert marked(connection) == {"bakery.md"}
    assert {s: v for s, v in files(connection).items() if s != "bakery.md"} == others
    assert repairs.done == ["1 damaged stored vectors re-embedded"]
    assert messages == ["1 stored vectors were damaged; their paragraphs are embedded again."]


def test_a_damaged_sentence_vector_marks_its_file_too(built: tuple[Path, sqlite3.Connection], repairs: Repairs) -> None:
    _, connection = built
    source, sha = connection.execute(
        "SELECT p.source, s.sha256 FROM sentences s JOIN passages p ON p.id = s.passage_id LIMIT 1"
    ).fetchone()
    connection.execute("UPDATE embeddings SET vector = zeroblob(4) WHERE sha256 = ?", (sha,))
    verify_vectors(connection, DIMENSION, repairs)
    assert marked(connection) == {source} and sha not in stored(connection)


def test_a_missing_vector_row_marks_its_file_and_deletes_nothing(
    built: tuple[Path, sqlite3.Connection], repairs: Repairs, messages: list[str]
) -> None:
    _, connection = built
    missing = window_vector(connection, "nested/rivers.txt")
    connection.execute("DELETE FROM embeddings WHERE sha256 = ?", (missing,))
    vectors = stored(connection)
    verify_vectors(connection, DIMENSION, repairs)
    assert marked(connection) == {"nested/rivers.txt"} and stored(connection) == vectors
    assert repairs.done == ["1 files with missing stored vectors re-embedded"]
    assert "missing" in messages[0]


def test_a_damaged_vector_nothing_uses_is_dropped_without_marking_a_file(
    built: tuple[Path, sqlite3.Connection], repairs: Repairs
) -> None:
    _, connection = built
    connection.execute("INSERT INTO embeddings(sha256, vector) VALUES ('unused', ?)", (b"\x01\x02",))
    verify_vectors(connection, DIMENSION, repairs)
    assert "unused" not in stored(connection) and marked(connection) == set()
    assert repairs.done == ["1 damaged stored vectors re-embedded"]


def test_missing_and_damaged_vectors_are_both_repaired_and_counted(
    built: tuple[Path, sqlite3.Connection], repairs: Repairs
) -> None:
    _, connection = built
    connection.execute("DELETE FROM embeddings WHERE sha256 = ?", (window_vector(connection, "volcano.txt"),))
    for source in ("bakery.md", "nested/rivers.txt"):
        connection.execute(
            "UPDATE embeddings SET vector = x'00' WHERE sha256 = ?", (window_vector(connection, source),)
        )
    verify_vectors(connection, DIMENSION, repairs)
    assert marked(connection) == {"volcano.txt", "bakery.md", "nested/rivers.txt"}
    assert repairs.done == ["1 files with missing stored vectors re-embedded", "2 damaged stored vectors re-embedded"]


def test_vectors_of_another_length_than_the_index_are_all_damaged(
    built: tuple[Path, sqlite3.Connection], repairs: Repairs
) -> None:
    _, connection = built
    count = len(stored(connection))
    verify_vectors(connection, DIMENSION // 2, repairs)
    assert stored(connection) == set()
    assert marked(connection) == {"volcano.txt", "bakery.md", "nested/rivers.txt"}
    assert repairs.done == [f"{count} damaged stored vectors re-embedded"]


def test_a_marked_index_is_read_again_and_mended_by_the_next_build(
    built: tuple[Path, sqlite3.Connection], repairs: Repairs, tmp_path: Path
) -> None:
    folder, connection = built
    damaged = window_vector(connection, "bakery.md")
    connection.execute("UPDATE embeddings SET vector = zeroblob(8) WHERE sha256 = ?", (damaged,))
    verify_vectors(connection, DIMENSION, repairs)
    embedder = FakeEmbedder()
    index = qa.build_index(tmp_path / "corpus", folder, embedder=embedder)
    assert embedder.encoded > 0 and index.report is not None and index.report.updated_files == 1
    assert marked(connection) == set() and damaged in stored(connection)
    assert index.search("sourdough bread", k=1, retriever="lexical")[0].source == "bakery.md"


def test_two_databases_set_aside_in_one_second_keep_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.store import repair

    monkeypatch.setattr(repair.time, "strftime", lambda _format: "20261207-120000")
    first = repair._aside(tmp_path)
    assert first.name == "index.db.damaged-20261207-120000"
    # Only its write-ahead log is left from the first: the name is still taken.
    first.with_name(first.name + "-wal").write_bytes(b"log")
    second = repair._aside(tmp_path)
    assert second.name == "index.db.damaged-20261207-120000-2"
    second.write_bytes(b"db")
    assert repair._aside(tmp_path).name == "index.db.damaged-20261207-120000-3"
