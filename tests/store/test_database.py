"""The index database: opening and creating it, damage told from passing access problems, transactions, meta."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qa.errors import (
    IndexAccessError,
    IndexCorruptError,
    IndexFormatError,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
)
from qa.store import database as db
from qa.store.database import DATABASE, FORMAT_VERSION, Meta

#: The fields :class:`Meta` cannot do without.
REQUIRED = {
    "format_version": FORMAT_VERSION,
    "model": "fake-embedder",
    "dimension": 8,
    "normalized": True,
    "context": False,
    "lexical_title": True,
    "corpus": "../corpus",
    "corpus_label": "corpus",
    "generation": 3,
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def connection(folder: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(folder, create=True)
    yield connection
    connection.close()


def set_raw_meta(connection: sqlite3.Connection, values: dict[str, str]) -> None:
    """Store ``meta`` values exactly as given (not JSON-encoded)."""
    connection.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())


def sqlite_error(kind: type[sqlite3.Error], code: int | None) -> sqlite3.Error:
    exc = kind("boom")
    if code is not None:
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


def filled_database(folder: Path, rows: int = 2000) -> bytes:
    """The bytes of a closed index database holding ``rows`` files."""
    connection = db.connect(folder, create=True)
    with db.transaction(connection):
        connection.executemany(
            "INSERT INTO files(source, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
            [(f"file-{n:05d}-" + "x" * 80, n, n, "0" * 64) for n in range(rows)],
        )
    connection.close()
    return db.database_path(folder).read_bytes()


# -- telling damage from access problems --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "damage"),
    [(11, True), (26, True), (11 | (1 << 8), True), (26 | (3 << 8), True), (5, False), (8, False), (13, False)],
    ids=["corrupt", "notadb", "corrupt-vtab", "extended-notadb", "busy", "readonly", "full"],
)
def test_only_the_corrupt_and_not_a_database_codes_are_damage(code: int, damage: bool) -> None:
    assert db.is_damage(sqlite_error(sqlite3.DatabaseError, code)) is damage
    assert db.is_damage(sqlite_error(sqlite3.OperationalError, code)) is damage


def test_without_a_result_code_only_a_non_operational_database_error_is_damage() -> None:
    assert db.is_damage(sqlite_error(sqlite3.DatabaseError, None)) is True
    assert db.is_damage(sqlite_error(sqlite3.IntegrityError, None)) is True
    assert db.is_damage(sqlite_error(sqlite3.OperationalError, None)) is False
    assert db.is_damage(OSError("no space left")) is False
    assert db.is_damage(ValueError("x")) is False


def test_failure_turns_damage_into_a_corrupt_error_and_the_rest_into_an_access_error(folder: Path) -> None:
    damage = db.failure(folder, sqlite_error(sqlite3.DatabaseError, 26))
    assert isinstance(damage, IndexCorruptError)
    assert str(db.database_path(folder)) in str(damage) and "qa index --check" in str(damage)
    passing = db.failure(folder, sqlite_error(sqlite3.OperationalError, 5))
    assert isinstance(passing, IndexAccessError)
    assert "boom" in str(passing) and "try again" in str(passing)


def test_the_database_lives_in_the_index_folder() -> None:
    assert db.database_path(Path("some/index")) == Path("some/index") / DATABASE == Path("some/index/index.db")


# -- connect ------------------------------------------------------------------------------------


def test_connecting_to_a_folder_without_a_database_is_not_found_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match=r"no index in .*qa index"):
        db.connect(tmp_path / "index")
    assert not (tmp_path / "index").exists()


def test_creating_makes_the_folder_and_every_table_in_wal_mode(folder: Path) -> None:
    connection = db.connect(folder, create=True)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "files", "passages", "windows", "sentences", "embeddings", "removed", "lexical_terms"} <= tables
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        # Autocommit: nothing is in a transaction until one is begun.
        assert connection.isolation_level is None and not connection.in_transaction
    finally:
        connection.close()
    assert db.database_path(folder).is_file()


def test_a_created_database_opens_again_for_reading(folder: Path) -> None:
    db.connect(folder, create=True).close()
    reader = db.connect(folder)
    try:
        assert reader.execute("SELECT count(*) FROM passages").fetchone()[0] == 0
    finally:
        reader.close()


def test_creating_again_keeps_what_is_stored(folder: Path, connection: sqlite3.Connection) -> None:
    with db.transaction(connection):
        db.write_meta(connection, {"generation": 7})
    again = db.connect(folder, create=True)
    try:
        assert db.read_facts(again) == {"generation": 7}
    finally:
        again.close()


def test_creating_over_a_format_2_passages_table_adds_the_missing_columns(folder: Path) -> None:
    folder.mkdir()
    old = sqlite3.connect(db.database_path(folder))
    old.execute(
        "CREATE TABLE passages(id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, paragraph INTEGER NOT NULL,"
        " start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, start_char INTEGER NOT NULL,"
        " end_char INTEGER NOT NULL, text TEXT NOT NULL, sha256 TEXT NOT NULL, terms TEXT NOT NULL,"
        " length INTEGER NOT NULL, signature BLOB NOT NULL, generation INTEGER NOT NULL)"
    )
    old.commit()
    old.close()
    connection = db.connect(folder, create=True)
    try:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(passages)")]
    finally:
        connection.close()
    assert columns[-4:] == ["page", "end_page", "page_paragraph", "section"]


@pytest.mark.parametrize("create", [False, True], ids=["read", "create"])
@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"this is not a database at all " * 200,
        lambda data: data[: len(data) // 2],
        lambda data: data[:100],
        lambda data: data[:16] + b"\xff" * 84 + data[100:],
    ],
    ids=["garbage", "half", "header-only", "garbled-header"],
)
def test_a_damaged_database_file_is_a_corrupt_error_naming_it(
    folder: Path, create: bool, damage: Callable[[bytes], bytes]
) -> None:
    data = filled_database(folder)
    db.database_path(folder).write_bytes(damage(data))
    with pytest.raises(IndexCorruptError, match=r"index\.db is damaged .*qa index --check"):
        connection = db.connect(folder, create=create)
        # Some damage only shows once the pages are read.
        connection.execute("SELECT count(*), max(source) FROM files").fetchone()


def test_a_locked_database_is_an_access_error_not_damage(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    holder = sqlite3.connect(db.database_path(folder), isolation_level=None)
    holder.execute("CREATE TABLE held(x)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(db, "_BUSY_TIMEOUT_MS", 50)
    try:
        for create in (False, True):
            with pytest.raises(IndexAccessError, match=r"locked.*try again"):
                db.connect(folder, create=create)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- transactions -------------------------------------------------------------------------------


def test_a_transaction_commits_what_it_did(folder: Path, connection: sqlite3.Connection) -> None:
    with db.transaction(connection) as inside:
        assert inside is connection and connection.in_transaction
        db.write_meta(connection, {"generation": 1})
    assert not connection.in_transaction
    other = db.connect(folder)
    try:
        assert db.read_facts(other) == {"generation": 1}
    finally:
        other.close()


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_transaction_rolls_back_on_any_error_and_lets_it_through(
    connection: sqlite3.Connection, error: type[BaseException]
) -> None:
    with db.transaction(connection):
        db.write_meta(connection, {"generation": 1})
    with pytest.raises(error), db.transaction(connection):
        db.write_meta(connection, {"generation": 2, "model": "half-written"})
        raise error()
    assert not connection.in_transaction
    assert db.read_facts(connection) == {"generation": 1}


def test_a_transaction_that_sqlite_already_rolled_back_raises_the_original_error(
    connection: sqlite3.Connection,
) -> None:
    with pytest.raises(RuntimeError, match="disk full"), db.transaction(connection):
        db.write_meta(connection, {"generation": 2})
        connection.execute("ROLLBACK")
        raise RuntimeError("disk full")
    assert db.read_meta(connection) == {}


def test_a_transaction_takes_the_write_lock_at_once(folder: Path, connection: sqlite3.Connection) -> None:
    other = db.connect(folder)
    other.execute("PRAGMA busy_timeout = 0")
    try:
        with db.transaction(connection), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


# -- meta ---------------------------------------------------------------------------------------


def test_meta_values_are_stored_as_json_and_replaced(connection: sqlite3.Connection) -> None:
    db.write_meta(connection, {"generation": 1, "model": "m", "normalized": True, "files": {"a": [1, 2]}})
    db.write_meta(connection, {"generation": 2})
    assert db.read_meta(connection) == {
        "generation": "2",
        "model": '"m"',
        "normalized": "true",
        "files": '{"a": [1, 2]}',
    }
    assert db.read_facts(connection) == {"generation": 2, "model": "m", "normalized": True, "files": {"a": [1, 2]}}


def test_a_meta_value_that_is_not_json_is_a_value_error_when_decoded(connection: sqlite3.Connection) -> None:
    set_raw_meta(connection, {"model": "not json"})
    assert db.read_meta(connection) == {"model": "not json"}
    with pytest.raises(ValueError):
        db.read_facts(connection)


def test_meta_reads_every_field_and_keeps_defaults_for_the_rest(folder: Path, connection: sqlite3.Connection) -> None:
    db.write_meta(connection, {**REQUIRED, "base_file": "vectors-a.faiss", "token_total": 99, "unknown_key": 1})
    meta = Meta.read(connection, folder)
    assert meta == Meta(**REQUIRED, base_file="vectors-a.faiss", token_total=99)  # type: ignore[arg-type]
    assert meta.lexical_file == "" and meta.epoch == "" and meta.updated == 0.0 and meta.sentences == 0


def test_an_empty_meta_table_is_no_index_yet(folder: Path, connection: sqlite3.Connection) -> None:
    with pytest.raises(IndexNotFoundError, match=r"no index in .* yet"):
        Meta.read(connection, folder)


@pytest.mark.parametrize("version", [1, 2, 0, -5])
def test_an_older_format_version_is_a_format_error(folder: Path, connection: sqlite3.Connection, version: int) -> None:
    db.write_meta(connection, {**REQUIRED, "format_version": version})
    with pytest.raises(IndexFormatError, match=rf"older format \({version}\)"):
        Meta.read(connection, folder)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, "3", True, None, 3.5, [3]], ids=repr)
def test_a_newer_or_unknown_format_version_is_a_mismatch_not_a_format_error(
    folder: Path, connection: sqlite3.Connection, version: object
) -> None:
    db.write_meta(connection, {**REQUIRED, "format_version": version})
    with pytest.raises(IndexMismatchError, match="is not the format this version reads") as caught:
        Meta.read(connection, folder)
    assert not isinstance(caught.value, IndexFormatError)


def test_a_meta_without_format_version_is_a_mismatch(folder: Path, connection: sqlite3.Connection) -> None:
    db.write_meta(connection, {key: value for key, value in REQUIRED.items() if key != "format_version"})
    with pytest.raises(IndexMismatchError, match="index format None"):
        Meta.read(connection, folder)


@pytest.mark.parametrize("missing", ["model", "dimension", "corpus", "generation"])
def test_a_meta_missing_a_required_field_is_corrupt(folder: Path, connection: sqlite3.Connection, missing: str) -> None:
    db.write_meta(connection, {key: value for key, value in REQUIRED.items() if key != missing})
    with pytest.raises(IndexCorruptError, match=rf"metadata in .* is malformed .*{missing}"):
        Meta.read(connection, folder)


def test_a_meta_value_that_is_not_json_is_corrupt(folder: Path, connection: sqlite3.Connection) -> None:
    db.write_meta(connection, REQUIRED)
    set_raw_meta(connection, {"model": "{half"})
    with pytest.raises(IndexCorruptError, match="malformed"):
        Meta.read(connection, folder)


def test_a_database_without_the_index_tables_is_not_a_passing_access_problem(folder: Path) -> None:
    # A readable SQLite file with no ``meta`` table (another program's, or tables dropped) holds no
    # index: not a passing access problem ("try again"), which no retry would mend.
    folder.mkdir()
    foreign = sqlite3.connect(db.database_path(folder))
    foreign.execute("CREATE TABLE other(x)")
    foreign.commit()
    foreign.close()
    connection = db.connect(folder)
    try:
        with pytest.raises((IndexNotFoundError, IndexCorruptError)):
            Meta.read(connection, folder)
    finally:
        connection.close()


# -- state_of -----------------------------------------------------------------------------------


def test_state_of_reads_the_epoch_generation_and_base_file(folder: Path, connection: sqlite3.Connection) -> None:
    db.write_meta(connection, {**REQUIRED, "epoch": "e1", "generation": 12, "base_file": "vectors-b.faiss"})
    assert db.state_of(folder) == ("e1", 12, "vectors-b.faiss")


def test_state_of_an_empty_index_is_the_defaults(folder: Path, connection: sqlite3.Connection) -> None:
    assert db.state_of(folder) == ("", 0, "")


def test_state_of_a_missing_index_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError):
        db.state_of(tmp_path / "none")


def test_state_of_a_damaged_database_is_corrupt(folder: Path) -> None:
    folder.mkdir()
    db.database_path(folder).write_bytes(b"garbage" * 500)
    with pytest.raises(IndexCorruptError):
        db.state_of(folder)


@pytest.mark.parametrize("value", ["not json", '"twelve"', "[1]"], ids=["garbled", "text", "list"])
def test_state_of_malformed_meta_is_a_corrupt_error_not_a_raw_exception(
    folder: Path, connection: sqlite3.Connection, value: str
) -> None:
    # A hand-edited or damaged ``generation`` must not escape as a bare ValueError or TypeError
    # (LiveIndex's reload catches QAError).
    db.write_meta(connection, REQUIRED)
    set_raw_meta(connection, {"generation": value})
    with pytest.raises(IndexCorruptError):
        db.state_of(folder)


def test_state_of_closes_its_connection_whether_it_reads_or_fails(
    folder: Path, connection: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[sqlite3.Connection] = []
    connect = db.connect

    def recording(where: Path, *, create: bool = False) -> sqlite3.Connection:
        opened.append(connect(where, create=create))
        return opened[-1]

    monkeypatch.setattr(db, "connect", recording)
    db.write_meta(connection, REQUIRED)
    db.state_of(folder)
    connection.execute("UPDATE meta SET value = 'not json' WHERE key = 'generation'")
    with pytest.raises(QAError):
        db.state_of(folder)
    assert len(opened) == 2
    for each in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            each.execute("SELECT 1")


# -- SQL helpers --------------------------------------------------------------------------------


def test_chunks_cover_every_item_in_order_in_slices_of_at_most_size() -> None:
    items = list(range(1203))
    parts = list(db.chunks(items, 500))
    assert [len(p) for p in parts] == [500, 500, 203]
    assert [x for p in parts for x in p] == items
    assert [list(p) for p in db.chunks(["a", "b", "c"], 2)] == [["a", "b"], ["c"]]
    assert list(db.chunks([])) == []


def test_default_chunks_fit_one_sql_in_list(connection: sqlite3.Connection) -> None:
    sources = [f"f{n}" for n in range(1234)]
    connection.executemany(
        "INSERT INTO files(source, size, mtime_ns, sha256) VALUES (?, 0, 0, '')", [(s,) for s in sources]
    )
    found = 0
    for part in db.chunks(sources):
        marks = db.placeholders(len(part))
        found += connection.execute(f"SELECT count(*) FROM files WHERE source IN ({marks})", tuple(part)).fetchone()[0]
    assert found == 1234


def test_placeholders_make_one_mark_per_parameter() -> None:
    assert db.placeholders(0) == ""
    assert db.placeholders(1) == "?"
    assert db.placeholders(3) == "?, ?, ?"
