"""The index database: files, passages, vectors and keyword terms in one SQLite file (WAL).

Every change is one transaction; readers see a complete committed state and are never
blocked by the single writer. This is the only module that opens SQLite connections.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IndexAccessError, IndexCorruptError, IndexFormatError, IndexMismatchError, IndexNotFoundError

#: Bumped whenever the layout of an index folder changes. Format 1 was files + manifest; format 2
#: had no page and section of passages (an index in it is rebuilt).
FORMAT_VERSION = 3

DATABASE = "index.db"
#: Seconds a connection waits for a lock before giving up.
_BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    source TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    skipped TEXT,
    indexed REAL
);
CREATE TABLE IF NOT EXISTS passages(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    paragraph INTEGER NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    text TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    page INTEGER,
    end_page INTEGER,
    page_paragraph INTEGER,
    section TEXT,
    terms TEXT NOT NULL,
    length INTEGER NOT NULL,
    signature BLOB NOT NULL,
    generation INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_source ON passages(source, paragraph);
CREATE INDEX IF NOT EXISTS passages_generation ON passages(generation);
CREATE TABLE IF NOT EXISTS windows(
    id INTEGER PRIMARY KEY,
    passage_id INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_passage ON windows(passage_id);
CREATE INDEX IF NOT EXISTS windows_sha ON windows(sha256);
CREATE TABLE IF NOT EXISTS sentences(
    passage_id INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_passage ON sentences(passage_id);
CREATE INDEX IF NOT EXISTS sentences_sha ON sentences(sha256);
-- A rowid table: a 1.5 KB vector fits in its page (WITHOUT ROWID would spill each to an overflow page).
CREATE TABLE IF NOT EXISTS embeddings(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS removed(vector_id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lexical_terms(term TEXT PRIMARY KEY, col INTEGER NOT NULL) WITHOUT ROWID;
"""

#: Columns added since format 2, by table: a database without them gets them before it is updated (or
#: rebuilt). ``files.indexed`` (when a file was last read) came within format 3: readers allow for its absence.
_ADDED_COLUMNS = (
    ("passages", "page", "INTEGER"),
    ("passages", "end_page", "INTEGER"),
    ("passages", "page_paragraph", "INTEGER"),
    ("passages", "section", "TEXT"),
    ("files", "indexed", "REAL"),
)


def database_path(folder: Path) -> Path:
    """Where the database of an index folder lives."""
    return folder / DATABASE


#: SQLite result codes that mean the file itself is damaged (SQLITE_CORRUPT, SQLITE_NOTADB).
_DAMAGE_CODES = (11, 26)


def is_damage(exc: BaseException) -> bool:
    """Whether an SQLite error says the database file is damaged (not locked, full or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in _DAMAGE_CODES
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


def failure(
    folder: Path, exc: BaseException, connection: sqlite3.Connection | None = None
) -> IndexCorruptError | IndexAccessError:
    """The error to raise for an SQLite error (met on ``connection``, if known): damage, or a passing access problem."""
    if is_damage(exc) and _changed_since_immutable_open(folder, connection):
        # Read without locks (another user's index) while its owner changed it: not damage.
        return IndexAccessError(f"the index in {folder} was changed by its owner while it was read here; ask again")
    if is_damage(exc):
        return damaged(folder, exc)
    return IndexAccessError(
        f"the index in {folder} cannot be used right now ({exc}); the last complete state is kept, try again"
    )


def damaged(folder: Path, exc: BaseException | str) -> IndexCorruptError:
    """The error for a database that SQLite cannot read."""
    return IndexCorruptError(
        f"the index database {database_path(folder)} is damaged ({exc}); "
        "run `qa index --check` to set it aside and rebuild it",
        part="database",
    )


#: SQLite result codes of a file this process may read but not write (SQLITE_READONLY, SQLITE_CANTOPEN).
_READ_ONLY_CODES = (8, 14)
#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\0"


def writable(folder: Path) -> bool:
    """Whether this process may write the index in ``folder`` (its folder and its database file).

    A copy owned by another user or on a read-only mount is not: it is read as it is.
    """
    path = database_path(folder)
    return os.access(folder, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.W_OK))


def _check_header(folder: Path, path: Path) -> None:
    """Refuse a database file that is empty or not an SQLite database, naming the damage.

    Raises:
        IndexCorruptError: The file is empty, or does not start as an SQLite database does.

    """
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except OSError:
        # Unreadable: SQLite says why when it opens it.
        return
    if not head:
        raise damaged(folder, "the file is empty (0 bytes)")
    if head != _SQLITE_HEADER[: len(head)] or len(head) < len(_SQLITE_HEADER):
        raise damaged(folder, "the file is not an SQLite database")


#: How a reader that may not write opens the database: read-only, else immutable.
READ_MODES = ("mode=ro", "immutable=1")


def _read_only(folder: Path, path: Path) -> sqlite3.Connection:
    """Open the database for reading only: read-only mode, or immutable where not even that can be had.

    Read-only mode needs the WAL's shared-memory file to exist or be creatable. Where it
    cannot be (a read-only mount; another user's folder after its writer closed), the file
    is opened as immutable: read as it is, without locks. Its owner may still change it:
    what it was when opened is noted, so that an error met after such a change is said as
    "changed while read" (:func:`failure`), never as damage.
    """
    uri = path.resolve().as_uri()
    last: sqlite3.DatabaseError | None = None
    for mode in READ_MODES:
        try:
            state = _file_state(path)
            connection = sqlite3.connect(
                f"{uri}?{mode}",
                uri=True,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
                factory=ImmutableConnection if mode == "immutable=1" else sqlite3.Connection,
            )
            connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if isinstance(connection, ImmutableConnection):
                connection.opened_state = state
            return connection
        except sqlite3.DatabaseError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            # Only a file that cannot be opened read-only is opened immutable; a busy or damaged one is said as such.
            if is_damage(exc) or (code is not None and int(code) & 0xFF not in _READ_ONLY_CODES):
                raise
            last = exc
    assert last is not None
    raise last


class ImmutableConnection(sqlite3.Connection):
    """A connection to a database opened immutable, with the file's state when it was opened."""

    opened_state: tuple[int, int, int] | None = None


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """Size, modification time and inode of a database file (``None``: gone)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns, status.st_ino


def _changed_since_immutable_open(folder: Path, connection: sqlite3.Connection | None = None) -> bool:
    """Whether ``connection`` reads the database immutable, and the file was written since it was opened."""
    return isinstance(connection, ImmutableConnection) and connection.opened_state != _file_state(database_path(folder))


def connect(folder: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open the index database of ``folder`` in WAL mode.

    A reader of an index it may not write (another user's, or on a read-only mount) opens it
    read-only, or immutable, instead (see :func:`writable`).

    Args:
        folder: The index folder.
        create: Create the folder and the database if missing (writers only).

    Raises:
        IndexNotFoundError: There is no database and ``create`` is false.
        IndexCorruptError: The file is not a readable SQLite database (empty, another kind of
            file, damaged).

    """
    path = database_path(folder)
    if not create and not path.is_file():
        raise IndexNotFoundError(f"no index in {folder}: build one with `qa index`")
    if not create:
        # A writer takes an empty file for a database it was creating when it stopped; a reader names it.
        _check_header(folder, path)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    elif not writable(folder):
        try:
            return _read_only(folder, path)
        except sqlite3.DatabaseError as exc:
            raise failure(folder, exc) from exc
    try:
        # Autocommit mode: transactions are begun and ended explicitly.
        connection = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if create:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(_SCHEMA)
            _add_columns(connection)
        else:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise failure(folder, exc) from exc
    return connection


def _add_columns(connection: sqlite3.Connection) -> None:
    """Add the columns of this format to tables an older version made."""
    for table in {table for table, _, _ in _ADDED_COLUMNS}:
        have = columns(connection, table)
        for name, kind in ((n, k) for t, n, k in _ADDED_COLUMNS if t == table):
            if name not in have:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def columns(connection: sqlite3.Connection, table: str) -> set[str]:
    """The names of the columns of ``table``."""
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed on success, rolled back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        # SQLite may have rolled back already (disk full): then there is nothing to undo.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def read_meta(connection: sqlite3.Connection) -> dict[str, str]:
    """All ``meta`` rows as a dict, as stored (JSON text); empty where there is no ``meta`` table.

    A database without one holds no index (yet): a writer is creating it, its tables were
    dropped, or another program wrote it.
    """
    if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
        return {}
    return dict(connection.execute("SELECT key, value FROM meta").fetchall())


def read_facts(connection: sqlite3.Connection) -> dict[str, Any]:
    """All ``meta`` rows as a dict, decoded.

    Raises:
        ValueError: A value is not JSON text (``RecursionError``: nested too deep).

    """
    return {key: json.loads(value) for key, value in read_meta(connection).items()}


def write_meta(connection: sqlite3.Connection, values: dict[str, object]) -> None:
    """Set ``meta`` rows (inside the caller's transaction)."""
    connection.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(key, json.dumps(value)) for key, value in values.items()],
    )


@dataclass(frozen=True)
class Meta:
    """What the database says about how the index was built and what it holds.

    Attributes:
        format_version: Layout version of the folder.
        model: Embedding model name.
        dimension: Vector length.
        normalized: Whether stored vectors are unit vectors.
        context: Whether paragraphs were embedded with their article's title and lead.
        lexical_title: Whether the keyword index holds each paragraph's title too.
        corpus: The corpus folder relative to the index folder.
        corpus_label: How citations name the corpus folder.
        corpus_path: The corpus folder's absolute path when it was last indexed (``""`` in an
            index from before it was recorded): found again after the index folder moved.
        generation: Bumped by every commit that changes what is searchable.
        base_file: The vector file covering passages up to ``base_generation`` (``""``: none).
        base_generation: Generation the vector file reflects.
        base_sha256: SHA-256 of the vector file's bytes.
        base_count: Vectors in the vector file.
        lexical_file: The keyword segment folder covering the same passages (``""``: none).
        lexical_sha256: Checksum of the keyword segment's arrays.
        passage_count: Passages in the index.
        vector_count: Vectors (windows) in the index.
        token_total: Keyword terms over all passages, for BM25's average length.
        updated: When the searchable content last changed (seconds since the epoch; 0: unknown).
        epoch: Set anew when the index is built from scratch; generations compare within one epoch.
        sentences: The version of the sentence vectors stored (0: none).
        vectors: How document vectors were embedded: ``int8`` (the model's int8 twin) or
            ``fp32`` (as questions are; every index from before int8 vectors).

    """

    format_version: int
    model: str
    dimension: int
    normalized: bool
    context: bool
    lexical_title: bool
    corpus: str
    corpus_label: str
    generation: int
    base_file: str = ""
    base_generation: int = 0
    base_sha256: str = ""
    base_count: int = 0
    lexical_file: str = ""
    lexical_sha256: str = ""
    passage_count: int = 0
    vector_count: int = 0
    token_total: int = 0
    epoch: str = ""
    updated: float = 0.0
    sentences: int = 0
    vectors: str = "fp32"
    corpus_path: str = ""

    @classmethod
    def read(cls, connection: sqlite3.Connection, folder: Path) -> Meta:
        """Read and check the ``meta`` table.

        Raises:
            IndexNotFoundError: The database holds no index yet.
            IndexFormatError: An older format version wrote it (a rebuild replaces it).
            IndexMismatchError: Another (newer or unknown) format version wrote it.
            IndexCorruptError: Fields are missing or malformed.

        """
        try:
            raw = read_meta(connection)
        except sqlite3.DatabaseError as exc:
            raise failure(folder, exc, connection) from exc
        if not raw:
            raise IndexNotFoundError(f"no index in {folder} yet: build one with `qa index`")
        try:
            values = read_facts(connection)
            version = values.get("format_version")
            if isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION:
                raise IndexFormatError(
                    f"the index in {folder} is in an older format ({version}) than this version reads "
                    f"({FORMAT_VERSION}); rebuild it with `qa index`"
                )
            if version != FORMAT_VERSION:
                raise IndexMismatchError(
                    f"index format {version} is not the format this version reads ({FORMAT_VERSION}); "
                    "rebuild it with `qa index`"
                )
            return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})
        except (ValueError, TypeError, RecursionError) as exc:
            raise IndexCorruptError(
                f"the index metadata in {folder} is malformed ({exc}); rebuild with `qa index`"
            ) from exc


#: What :func:`state_of` reads, with the value of an index that has none yet.
_STATE = (("epoch", '""'), ("generation", "0"), ("base_file", '""'))


def state_of(folder: Path) -> tuple[str, int, str]:
    """The committed ``(epoch, generation, base_file)`` of an index, read cheaply (no snapshot).

    Raises:
        IndexNotFoundError: There is no index.
        IndexCorruptError: The database cannot be read, or these values are malformed.

    """
    connection = connect(folder)
    try:
        rows = read_meta(connection)
    except sqlite3.DatabaseError as exc:
        raise failure(folder, exc, connection) from exc
    finally:
        connection.close()
    try:
        epoch, generation, base = (json.loads(rows.get(key, default)) for key, default in _STATE)
        if not isinstance(generation, int) or isinstance(generation, bool):
            raise TypeError(f"generation {generation!r} is not a whole number")
        return str(epoch), generation, str(base)
    except (ValueError, TypeError, RecursionError) as exc:
        raise IndexCorruptError(
            f"the index metadata in {folder} is malformed ({exc}); rebuild with `qa index`"
        ) from exc


def chunks(items: Sequence[int] | Sequence[str], size: int = 500) -> Iterable[Sequence[int] | Sequence[str]]:
    """Slices of ``items`` small enough for one SQL ``IN (...)`` list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    """``?, ?, ?`` for ``count`` parameters."""
    return ", ".join("?" * count)
