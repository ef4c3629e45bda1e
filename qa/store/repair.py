"""Damage found and mended by a writer: a database SQLite cannot read, stored vectors that are not unit vectors."""

from __future__ import annotations

import itertools
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError
from . import database as db
from .codec import checked_vectors


@dataclass
class Repairs:
    """What an update mended, for its report, and the line said about each as it happens."""

    notify: Callable[[str], None]
    done: list[str] = field(default_factory=list)

    def add(self, summary: str, message: str) -> None:
        """Record a repair (``summary`` goes in the report) and say ``message`` now."""
        self.done.append(summary)
        self.notify(message)


def mend_lock_path(path: Path, repairs: Repairs, *, what: str = "writer lock") -> None:
    """Move aside whatever sits at a lock path (``what``) but a plain file (a folder, a link, a FIFO).

    Taking the writer's lock opens that path for writing: a folder there stopped every update
    with "Is a directory", and a link would be followed to wherever it points; readers' lock
    found no plain file leaves superseded base files behind. Two writers mending at once: the
    second finds it gone, which is as good.
    """
    try:
        found = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(found.st_mode):
        return
    kind = "a folder" if stat.S_ISDIR(found.st_mode) else "a link" if stat.S_ISLNK(found.st_mode) else "not a file"
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    repairs.add(
        f"the {what} {path.name} was {kind}; moved aside to {aside.name}",
        f"The {what} {path} was {kind}; it was moved aside to {aside.name} and a new lock made.",
    )


def _aside(folder: Path) -> Path:
    """A name to set the damaged database aside under, taken by no earlier one (two in a second included)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in itertools.count(1):
        aside = folder / (f"{db.DATABASE}.damaged-{stamp}" + ("" if number == 1 else f"-{number}"))
        if not any(aside.with_name(aside.name + suffix).exists() for suffix in ("", "-wal", "-shm")):
            return aside
    raise AssertionError("unreachable")


def open_database(folder: Path, repairs: Repairs, *, check: bool) -> sqlite3.Connection:
    """Open (or create) the database of ``folder``; set a damaged one aside to rebuild from scratch.

    Args:
        folder: The index folder.
        repairs: Where setting the database aside is recorded.
        check: Run SQLite's ``quick_check`` over the whole file first.

    Raises:
        IndexAccessError: The database is locked, read-only or on a full disk (never set aside).

    """
    try:
        connection = db.connect(folder, create=True)
        if check:
            result = connection.execute("PRAGMA quick_check").fetchone()
            if result is None or result[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {result}")
        db.read_meta(connection)
        return connection
    except (IndexCorruptError, sqlite3.DatabaseError) as exc:
        # Locked, read-only or full is not damage: never set a healthy database aside.
        if isinstance(exc, sqlite3.DatabaseError) and not db.is_damage(exc):
            raise db.failure(folder, exc) from exc
        aside = _aside(folder)
        for suffix in ("", "-wal", "-shm"):
            path = folder / f"{db.DATABASE}{suffix}"
            if path.exists():
                os.replace(path, aside.with_name(aside.name + suffix))
        connection = db.connect(folder, create=True)
        kept = salvage_vectors(aside, connection)
        repairs.add(
            f"the damaged database was moved to {aside.name} and rebuilt ({kept} stored vectors kept)",
            f"The index database was damaged ({exc}); it was moved to {aside.name} and is rebuilt,"
            f" keeping the {kept} stored vectors that could still be read (only the rest is embedded again).",
        )
        return connection


#: Vector rows read from a damaged database at a time: a damaged page costs only its range.
SALVAGE_RANGE = 256
#: Unreadable ranges in a row (each skipping twice as far as the last) after which the scan stops.
SALVAGE_MISSES = 64


def salvage_vectors(damaged: Path, connection: sqlite3.Connection) -> int:
    """Copy the stored vectors that can still be read from the database set aside at ``damaged``; how many.

    Vectors are keyed by model and exact text (their SHA-256), so the rebuild reuses every one
    that is kept and embeds only the rest. Rows are read in id order a range at a time and
    copied as they come (memory holds one range); a range SQLite cannot read whole is read a
    row at a time up to the damage, which is then jumped over, further each time; the scan
    gives up after :data:`SALVAGE_MISSES` jumps in a row. Only finite unit vectors are kept.
    """
    try:
        source = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    kept = 0
    try:
        for found in _readable_ranges(source):
            sound = _sound(found)
            with db.transaction(connection):
                connection.executemany("INSERT OR IGNORE INTO embeddings(sha256, vector) VALUES (?, ?)", sound)
            kept += len(sound)
    finally:
        source.close()
    return kept


def _sound(found: list[tuple[object, object]]) -> list[tuple[str, bytes]]:
    """The rows whose key is text and whose vector is finite and of unit length (each length checked as its own)."""
    rows = [(key, blob) for key, blob in found if isinstance(key, str) and isinstance(blob, bytes) and blob]
    sound: list[tuple[str, bytes]] = []
    for length in {len(blob) for _, blob in rows}:
        same = [row for row in rows if len(row[1]) == length]
        _, good = checked_vectors([blob for _, blob in same], length // 4)
        sound += [row for row, ok in zip(same, good.tolist(), strict=True) if ok]
    return sound


#: The first id a scan asks for: ids are 64-bit signed whole numbers.
_FIRST_ID = -(2**63)


def _readable_ranges(source: sqlite3.Connection) -> Iterator[list[tuple[object, object]]]:
    """The ``embeddings`` rows of a damaged database that SQLite can still read, a range at a time, in id order."""
    start, jump, misses = _FIRST_ID, SALVAGE_RANGE, 0
    while misses < SALVAGE_MISSES:
        whole = _rows_from(source, start, SALVAGE_RANGE)
        rows: list[tuple[Any, ...]] = whole or []
        if whole is None:
            # The range cannot be read whole: one row at a time up to the damage, then a jump past it.
            while len(rows) < SALVAGE_RANGE and (one := _rows_from(source, start, 1)):
                rows += one
                start = int(one[-1][0]) + 1
            if not rows:
                misses += 1
                start = min(start + jump, 2**63 - 1)
                jump *= 2
                continue
        elif not rows:
            return
        misses, jump = 0, SALVAGE_RANGE
        start = int(rows[-1][0]) + 1
        yield [(row[1], row[2]) for row in rows]
        if start > 2**63 - 1:
            return


def _rows_from(source: sqlite3.Connection, start: int, count: int) -> list[tuple[Any, ...]] | None:
    """Up to ``count`` rows from id ``start`` on, or ``None`` where SQLite cannot read them."""
    try:
        return source.execute(
            "SELECT id, sha256, vector FROM embeddings WHERE id >= ? ORDER BY id LIMIT ?", (start, count)
        ).fetchall()
    except sqlite3.Error:
        return None


def _mark_for_reading(connection: sqlite3.Connection, where: str, values: tuple[str, ...]) -> None:
    """Make the files whose passages match ``where`` look changed, so that the update reads and embeds them again."""
    connection.execute(f"UPDATE files SET size = -1, sha256 = 'damaged' WHERE source IN ({where})", values)


def verify_vectors(connection: sqlite3.Connection, dimension: int, repairs: Repairs) -> None:
    """Find damaged or missing stored vectors; drop them and mark their files for reading, so they are re-embedded."""
    bad: list[str] = []
    cursor = connection.execute("SELECT sha256, vector FROM embeddings")
    while rows := cursor.fetchmany(20_000):
        _, good = checked_vectors([r[1] for r in rows], dimension)
        bad += [r[0] for r, ok in zip(rows, good.tolist(), strict=True) if not ok]
    # Windows or sentences whose vector row is missing altogether: their files are read again.
    orphans = {
        row[0]
        for table in ("windows", "sentences")
        for row in connection.execute(
            f"SELECT DISTINCT p.source FROM passages p JOIN {table} w ON w.passage_id = p.id"
            " LEFT JOIN embeddings e ON e.sha256 = w.sha256 WHERE e.sha256 IS NULL"
        )
    }
    if orphans:
        with db.transaction(connection):
            for source in sorted(orphans):
                _mark_for_reading(connection, "?", (source,))
        repairs.add(
            f"{len(orphans)} files with missing stored vectors re-embedded",
            f"Stored vectors of {len(orphans)} files were missing; their paragraphs are embedded again.",
        )
    if not bad:
        return
    with db.transaction(connection):
        for part in db.chunks(bad):
            marks = db.placeholders(len(part))
            # A damaged vector may be a paragraph window's or a sentence's: either file is read again.
            for table in ("windows", "sentences"):
                _mark_for_reading(
                    connection,
                    f"SELECT p.source FROM passages p JOIN {table} w ON w.passage_id = p.id"
                    f" WHERE w.sha256 IN ({marks})",
                    tuple(part),  # type: ignore[arg-type]
                )
            connection.execute(f"DELETE FROM embeddings WHERE sha256 IN ({marks})", tuple(part))
    repairs.add(
        f"{len(bad)} damaged stored vectors re-embedded",
        f"{len(bad)} stored vectors were damaged; their paragraphs are embedded again.",
    )
