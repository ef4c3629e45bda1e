"""The web chat's saved conversations: one SQLite file (WAL) beside the index, apart from ``index.db``.

Turns are the JSON text the caller made (never decoded here). Every method takes an opaque owner and
treats another owner's conversation as missing. Each call opens its own connection and every write is
one ``BEGIN IMMEDIATE`` transaction: one store may be used from many threads and processes at once.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IndexAccessError, IndexCorruptError, IndexMismatchError, QueryError, shown
from ..text.checks import check_text
from .database import _BUSY_TIMEOUT_MS, is_damage

__all__ = ["CONVERSATIONS", "MAX_CONVERSATIONS", "MAX_TURNS", "TITLE_CHARS", "ConversationStore", "Saved", "Summary"]

CONVERSATIONS = "conversations.db"
#: Turns kept per conversation: the oldest are dropped, their ids are never given again.
MAX_TURNS = 100
#: Conversations kept per owner: the least recently updated are dropped.
MAX_CONVERSATIONS = 500
#: Titles are cut to this many characters (after whitespace is collapsed).
TITLE_CHARS = 120
#: The longest JSON text of a turn, owner, claim token and quote key, in characters.
MAX_DATA_CHARS, MAX_OWNER_CHARS, MAX_TOKEN_CHARS, MAX_KEY_CHARS = 5_000_000, 256, 256, 16
#: The layout of the file, kept in ``meta``; another value is a file this version cannot read.
SCHEMA_VERSION = 1

_ID = re.compile(r"[0-9a-f]{32}")
_VOTES = ("up", "down")
#: Turn ``?3`` of conversation ``?2``, if the conversation is owner ``?1``'s.
_MINE = "conversation = ?2 AND id = ?3 AND conversation IN (SELECT id FROM conversations WHERE owner = ?1)"
#: Format characters kept in titles (they join emoji and scripts); the others (bidi overrides) go.
_JOINERS = {"\u200c", "\u200d"}

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS conversations(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, "
    "title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, version INTEGER NOT NULL, "
    "next_turn INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated)",
    # A rowid table: a turn's JSON may be megabytes (WITHOUT ROWID suits small rows only).
    "CREATE TABLE IF NOT EXISTS turns(conversation TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL, "
    "claim TEXT, claimed REAL, PRIMARY KEY(conversation, id))",
    "CREATE TABLE IF NOT EXISTS votes(conversation TEXT NOT NULL, turn INTEGER NOT NULL, key TEXT NOT NULL, "
    "vote TEXT NOT NULL, PRIMARY KEY(conversation, turn, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS opened(owner TEXT PRIMARY KEY, conversation TEXT NOT NULL) WITHOUT ROWID",
)


@dataclass(frozen=True)
class Summary:
    """One conversation in a sidebar list."""

    id: str  # 32 hex characters
    title: str  # "": none yet
    created: float  # seconds since the epoch
    updated: float  # when a turn was last added
    turns: int  # turns stored (at most MAX_TURNS)


@dataclass(frozen=True)
class Saved:
    """One conversation as stored."""

    id: str
    title: str  # "": none yet
    turns: tuple[tuple[int, str], ...]  # (turn id, JSON text), oldest first
    votes: dict[tuple[int, str], str]  # (turn id, quote key) -> "up" | "down", of stored turns only
    version: int  # bumped by every change: a turn added or replaced, a vote, a rename
    next_turn: int  # the id the next turn will get


def clean_title(title: object) -> str:
    """A title as stored: whitespace collapsed, control characters removed, cut to :data:`TITLE_CHARS`."""
    if not isinstance(title, str):
        raise QueryError(f"a conversation title must be text, not {shown(title)}")
    # Collapse whitespace first, so that a newline between two words leaves a space.
    text = " ".join(title.split())
    # Drop controls, lone surrogates and invisible format characters (bidi overrides).
    text = "".join(c for c in text if c in _JOINERS or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return " ".join(text.split())[:TITLE_CHARS].rstrip()


def _text(name: str, value: object, limit: int) -> str:
    """``value`` if it is non-empty text of at most ``limit`` characters that SQLite can store."""
    if not isinstance(value, str) or not value:
        raise QueryError(f"{name} must be non-empty text, not {shown(value)}")
    if len(value) > limit:
        raise QueryError(f"{name} is {len(value)} characters long; at most {limit} are stored")
    # No lone surrogates: the one rule of what text may be.
    return check_text(value, name)


def _conversation_id(value: object) -> str:
    """``value`` if it is a conversation id: 32 lowercase hex characters."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise QueryError(f"a conversation id is 32 hex characters, not {shown(value)}")
    return value


def _whole(name: str, value: object) -> int:
    """``value`` if it is a whole number from 0 (in SQLite's 64-bit range)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise QueryError(f"{name} must be a whole number from 0, not {shown(value)}")
    return value


def _number(name: str, value: object, low: float = -math.inf) -> float:
    """``value`` if it is a finite number (not a bool) from ``low``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value < math.inf:
        raise QueryError(f"{name} must be a finite number from {low}, not {shown(value)}")
    return float(value)


def _key(owner: object, conversation_id: object) -> tuple[str, str]:
    """The owner and conversation id of a call, checked."""
    return _text("owner", owner, MAX_OWNER_CHARS), _conversation_id(conversation_id)


class ConversationStore:
    """The saved conversations of an index folder, in ``folder / CONVERSATIONS`` (made by the first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CONVERSATIONS

    def summaries(self, owner: str, limit: int = 200) -> list[Summary]:
        """The owner's conversations, most recently updated first; ``[]`` if nothing was saved yet."""
        owner, limit = _text("owner", owner, MAX_OWNER_CHARS), _whole("limit", limit)
        (rows,) = self._select(
            (
                "SELECT id, title, created, updated, (SELECT count(*) FROM turns WHERE conversation = c.id) "
                "FROM conversations AS c WHERE owner = ? ORDER BY updated DESC, seq DESC LIMIT ?",
                (owner, limit),
            )
        )
        return [Summary(*row) for row in rows]

    def load(self, owner: str, conversation_id: str) -> Saved | None:
        """The conversation as stored; ``None`` if it is missing or another owner's."""
        owner, cid = _key(owner, conversation_id)
        # One read transaction: the turns, votes and version are of one committed state.
        head, turns, votes = self._select(
            ("SELECT title, version, next_turn FROM conversations WHERE id = ? AND owner = ?", (cid, owner)),
            ("SELECT id, data FROM turns WHERE conversation = ? ORDER BY id", (cid,)),
            ("SELECT turn, key, vote FROM votes WHERE conversation = ?", (cid,)),
        )
        if not head:
            return None
        (title, version, next_turn), ballot = head[0], {(turn, key): vote for turn, key, vote in votes}
        return Saved(cid, title, tuple((turn, data) for turn, data in turns), ballot, version, next_turn)

    def version(self, owner: str, conversation_id: str) -> int | None:
        """The conversation's version (one indexed lookup); ``None`` if it is missing or another owner's."""
        owner, cid = _key(owner, conversation_id)
        (rows,) = self._select(("SELECT version FROM conversations WHERE id = ? AND owner = ?", (cid, owner)))
        return int(rows[0][0]) if rows else None

    def open_of(self, owner: str) -> str | None:
        """The conversation the owner last had open, if it still exists."""
        owner = _text("owner", owner, MAX_OWNER_CHARS)
        sql = "SELECT id FROM conversations WHERE owner = ? AND id = (SELECT conversation FROM opened WHERE owner = ?)"
        (rows,) = self._select((sql, (owner, owner)))
        return str(rows[0][0]) if rows else None

    def create(self, owner: str, title: str = "") -> str:
        """A new empty conversation of ``owner``; the owner's oldest beyond :data:`MAX_CONVERSATIONS` go."""
        owner, title = _text("owner", owner, MAX_OWNER_CHARS), clean_title(title)
        cid, now = uuid.uuid4().hex, time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO conversations(id, owner, title, created, updated, version, next_turn) "
                "VALUES (?, ?, ?, ?, ?, 0, 0)",
                (cid, owner, title, now, now),
            )
            # Keep the owner's newest MAX_CONVERSATIONS (the new one among them).
            sql = "SELECT id FROM conversations WHERE owner = ? ORDER BY updated DESC, seq DESC LIMIT -1 OFFSET ?"
            for (old,) in db.execute(sql, (owner, MAX_CONVERSATIONS)).fetchall():
                _drop(db, old)
        return cid

    def add_turn(self, owner: str, conversation_id: str, data: Callable[[int], str], *, title: str = "") -> int:
        """Store ``data(turn_id)`` as a new turn and return its id (QueryError: no such conversation of ``owner``).

        In one write transaction: take ``next_turn``, store the JSON, bump ``next_turn`` and the
        version, set ``updated``, set the title if there is none yet, and drop the turns (and their
        votes) beyond :data:`MAX_TURNS`. ``data`` runs while the file is locked: it should only serialise.
        """
        (owner, cid), title = _key(owner, conversation_id), clean_title(title)
        with self._write() as db:
            _, turn_id = _owned(db, owner, cid)
            text = _text("a turn's JSON", data(turn_id), MAX_DATA_CHARS)
            db.execute("INSERT INTO turns(conversation, id, data) VALUES (?, ?, ?)", (cid, turn_id, text))
            db.execute(
                "UPDATE conversations SET next_turn = ?, version = version + 1, updated = ?, "
                "title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (turn_id + 1, time.time(), title, cid),
            )
            # Ids are consecutive and never reused: the newest MAX_TURNS are those above this one.
            oldest = turn_id + 1 - MAX_TURNS
            db.execute("DELETE FROM turns WHERE conversation = ? AND id < ?", (cid, oldest))
            db.execute("DELETE FROM votes WHERE conversation = ? AND turn < ?", (cid, oldest))
        return turn_id

    def put_turn(self, owner: str, conversation_id: str, turn_id: int, data: str) -> bool:
        """Replace a turn's JSON (its answer arrived); ``False`` if the turn or conversation is gone."""
        owner, cid = _key(owner, conversation_id)
        turn_id, data = _whole("a turn id", turn_id), _text("a turn's JSON", data, MAX_DATA_CHARS)
        with self._write() as db:
            # Another owner's conversation is as gone as a deleted one.
            changed = db.execute(f"UPDATE turns SET data = ?4 WHERE {_MINE}", (owner, cid, turn_id, data)).rowcount
            if changed:
                _bump(db, cid)
        return bool(changed)

    def set_vote(self, owner: str, conversation_id: str, turn_id: int, key: str, vote: str | None) -> None:
        """Vote ``"up"``/``"down"`` on quote ``key`` of a turn, or take it back (``None``); QueryError if it is gone."""
        owner, cid = _key(owner, conversation_id)
        turn_id, key = _whole("a turn id", turn_id), _text("a quote key", key, MAX_KEY_CHARS)
        if vote is not None and vote not in _VOTES:
            raise QueryError(f'a vote is "up", "down" or None, not {shown(vote)}')
        with self._write() as db:
            _owned(db, owner, cid)
            if not db.execute("SELECT 1 FROM turns WHERE conversation = ? AND id = ?", (cid, turn_id)).fetchone():
                raise QueryError(f"no such turn: {turn_id}")
            where = (cid, turn_id, key)
            old = db.execute("SELECT vote FROM votes WHERE conversation = ? AND turn = ? AND key = ?", where).fetchone()
            # An equal vote, or taking back none, changes nothing.
            if (old[0] if old else None) == vote:
                return
            db.execute("DELETE FROM votes WHERE conversation = ? AND turn = ? AND key = ?", where)
            if vote is not None:
                db.execute("INSERT INTO votes(conversation, turn, key, vote) VALUES (?, ?, ?, ?)", (*where, vote))
            _bump(db, cid)

    def rename(self, owner: str, conversation_id: str, title: str) -> None:
        """Set the conversation's title (cleaned); the version is bumped when it changes."""
        (owner, cid), title = _key(owner, conversation_id), clean_title(title)
        if not title:
            raise QueryError("a conversation title cannot be blank")
        with self._write() as db:
            if _owned(db, owner, cid)[0] != title:
                db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, cid))
                _bump(db, cid)

    def delete(self, owner: str, conversation_id: str) -> None:
        """Delete the conversation with its turns and votes."""
        owner, cid = _key(owner, conversation_id)
        with self._write() as db:
            _owned(db, owner, cid)
            _drop(db, cid)

    def set_open(self, owner: str, conversation_id: str | None) -> None:
        """Remember the conversation the owner has open (``None``: none)."""
        owner = _text("owner", owner, MAX_OWNER_CHARS)
        cid = None if conversation_id is None else _conversation_id(conversation_id)
        with self._write() as db:
            if cid is None:
                db.execute("DELETE FROM opened WHERE owner = ?", (owner,))
                return
            _owned(db, owner, cid)
            db.execute("INSERT OR REPLACE INTO opened(owner, conversation) VALUES (?, ?)", (owner, cid))

    def claim(
        self, owner: str, conversation_id: str, turn_id: int, token: str, *, now: float, ttl: float = 120.0
    ) -> bool:
        """Mark a turn as being answered by ``token`` (one process or session), atomically.

        ``True`` if the turn was unclaimed, already claimed by ``token`` (renewed to ``now``), or
        claimed by another token at least ``ttl`` seconds before ``now``; ``False`` otherwise, and
        if the turn or conversation is gone. A claim is no change of the conversation (same version).
        """
        (owner, cid), turn_id = _key(owner, conversation_id), _whole("a turn id", turn_id)
        token, now, ttl = _text("a claim token", token, MAX_TOKEN_CHARS), _number("now", now), _number("ttl", ttl, 0)
        with self._write() as db:
            # One conditional update under the write lock: of racing claimers, the first wins.
            free = "claim IS NULL OR claim = ?4 OR claimed <= ?6"
            taken = db.execute(
                f"UPDATE turns SET claim = ?4, claimed = ?5 WHERE {_MINE} AND ({free})",
                (owner, cid, turn_id, token, now, now - ttl),
            )
        return bool(taken.rowcount)

    def release(self, owner: str, conversation_id: str, turn_id: int, token: str) -> None:
        """Give up ``token``'s claim on a turn; nothing happens if it holds none (or the turn is gone)."""
        (owner, cid), turn_id = _key(owner, conversation_id), _whole("a turn id", turn_id)
        token = _text("a claim token", token, MAX_TOKEN_CHARS)
        with self._write() as db:
            db.execute(
                f"UPDATE turns SET claim = NULL, claimed = NULL WHERE {_MINE} AND claim = ?4",
                (owner, cid, turn_id, token),
            )

    def _connect(self, mode: str) -> sqlite3.Connection:
        """A new connection to the file (``mode``: ``rw`` never creates it, ``rwc`` does)."""
        uri = f"{self.path.resolve().as_uri()}?mode={mode}"
        # Autocommit mode: transactions are begun and ended explicitly.
        db = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        return db

    def _select(self, *queries: tuple[str, tuple[object, ...]]) -> list[list[Any]]:
        """The rows of each ``(sql, parameters)``, read in one transaction (none if nothing was saved yet)."""
        if not self.path.is_file():
            return [[] for _ in queries]
        try:
            # Closing the connection ends the read transaction.
            with closing(self._connect("rw")) as db:
                db.execute("BEGIN")
                if not _schema(db, self.path):
                    return [[] for _ in queries]
                return [db.execute(sql, parameters).fetchall() for sql, parameters in queries]
        except sqlite3.Error as exc:
            raise self._failure(exc, "read") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection in a write transaction: committed on success, rolled back on any error."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexAccessError(f"conversations cannot be saved right now ({exc})") from exc
        try:
            with closing(self._connect("rwc")) as db:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                # IMMEDIATE: the write lock is taken (waiting its turn) before anything is read, so a
                # writer never has to upgrade a read of an older state, which SQLite refuses at once.
                db.execute("BEGIN IMMEDIATE")
                try:
                    # The schema is made (or checked) in the same transaction as the first write.
                    if not _schema(db, self.path):
                        for statement in _SCHEMA:
                            db.execute(statement)
                        db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    yield db
                except BaseException:
                    # SQLite may have rolled back already (disk full): then there is nothing to undo.
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._failure(exc, "saved") from exc

    def _failure(self, exc: sqlite3.Error, doing: str) -> IndexCorruptError | IndexAccessError:
        """The error to raise for an SQLite error: a damaged file, or a passing access problem."""
        if is_damage(exc):
            return IndexCorruptError(
                f"the conversations database {self.path} is damaged ({exc}); move or delete it to set the "
                "saved conversations aside (the index itself is not affected)"
            )
        return IndexAccessError(f"conversations cannot be {doing} right now ({exc})")


def _schema(db: sqlite3.Connection, path: Path) -> bool:
    """Whether the file holds this module's tables (``False``: not made yet); IndexMismatchError if another format."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
        return False
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        found = shown(None if row is None else row[0])
        raise IndexMismatchError(f"{path} is in format {found}, not {SCHEMA_VERSION}: move it aside to start afresh")
    return True


def _owned(db: sqlite3.Connection, owner: str, cid: str) -> tuple[str, int]:
    """``(title, next_turn)`` of the owner's conversation; another owner's is as missing as a deleted one."""
    row = db.execute("SELECT title, next_turn FROM conversations WHERE id = ? AND owner = ?", (cid, owner)).fetchone()
    if row is None:
        raise QueryError(f"no such conversation: {cid}")
    return str(row[0]), int(row[1])


def _bump(db: sqlite3.Connection, cid: str) -> None:
    """Mark a change of the conversation (inside the caller's transaction)."""
    db.execute("UPDATE conversations SET version = version + 1 WHERE id = ?", (cid,))


def _drop(db: sqlite3.Connection, cid: str) -> None:
    """Remove a conversation with its turns, votes and "open" marks (inside the caller's transaction)."""
    db.execute("DELETE FROM turns WHERE conversation = ?", (cid,))
    db.execute("DELETE FROM votes WHERE conversation = ?", (cid,))
    db.execute("DELETE FROM opened WHERE conversation = ?", (cid,))
    db.execute("DELETE FROM conversations WHERE id = ?", (cid,))
