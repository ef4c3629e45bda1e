"""The writer's rows: passages with their windows and sentences, files, and stored vectors."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..build.splitting import PassageRow
from ..ingest.sources import Signature
from . import database as db
from .codec import checked_vectors, encode_vector, vector_id

#: Tables a rebuild from scratch empties.
TABLES = ("files", "passages", "windows", "sentences", "removed", "lexical_terms", "meta")


@dataclass(frozen=True)
class Totals:
    """What an index holds, kept up to date by difference: passages, vectors (windows) and keyword terms."""

    passages: int = 0
    vectors: int = 0
    terms: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.passages + other.passages, self.vectors + other.vectors, self.terms + other.terms)

    def __sub__(self, other: Totals) -> Totals:
        return Totals(self.passages - other.passages, self.vectors - other.vectors, self.terms - other.terms)

    @classmethod
    def stored(cls, meta: dict[str, object]) -> Totals:
        """The totals a ``meta`` table (decoded) records."""
        return cls(*(int(str(meta.get(key, 0))) for key in ("passage_count", "vector_count", "token_total")))

    def as_meta(self) -> dict[str, object]:
        """The totals as ``meta`` rows."""
        return {"passage_count": self.passages, "vector_count": self.vectors, "token_total": self.terms}


def wipe(connection: sqlite3.Connection) -> None:
    """Empty every table (inside the caller's transaction): the index is built again from scratch."""
    for table in TABLES:
        connection.execute(f"DELETE FROM {table}")


def insert_passage(connection: sqlite3.Connection, row: PassageRow, generation: int) -> Totals:
    """Insert one passage with its windows, sentences and keyword terms; return what it adds."""
    passage = row.passage
    cursor = connection.execute(
        "INSERT INTO passages(source, paragraph, start_line, end_line, start_char, end_char, text, sha256,"
        " page, end_page, page_paragraph, section, terms, length, signature, generation)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            passage.source,
            passage.paragraph,
            passage.start_line,
            passage.end_line,
            passage.start_char,
            passage.end_char,
            passage.text,
            passage.sha256,
            passage.page,
            passage.end_page,
            passage.page_paragraph,
            passage.section,
            row.terms,
            row.term_count,
            row.sketch,
            generation,
        ),
    )
    pid = int(cursor.lastrowid or 0)
    connection.executemany(
        "INSERT INTO windows(id, passage_id, start, end, sha256) VALUES (?, ?, ?, ?, ?)",
        [(vector_id(pid, n), pid, s, e, h) for n, ((s, e), h) in enumerate(zip(row.windows, row.hashes, strict=True))],
    )
    connection.executemany(
        "INSERT INTO sentences(passage_id, start, end, sha256) VALUES (?, ?, ?, ?)",
        [(pid, s, e, h) for (s, e), h in zip(row.sentences, row.sentence_hashes, strict=True)],
    )
    return Totals(1, len(row.windows), row.term_count)


def drop_file(connection: sqlite3.Connection, source: str, generation: int, dropped: set[str]) -> Totals:
    """Delete a file's passages, remembering their vector ids as removed at ``generation``.

    The hashes of their windows' and sentences' vectors are added to ``dropped`` (to sweep
    the vectors nothing uses any more). Returns what was deleted.
    """
    rows = connection.execute("SELECT id, length FROM passages WHERE source = ?", (source,)).fetchall()
    ids = [row[0] for row in rows]
    windows = 0
    for part in db.chunks(ids):
        marks = db.placeholders(len(part))
        for table in ("windows", "sentences"):
            dropped.update(
                row[0] for row in connection.execute(f"SELECT sha256 FROM {table} WHERE passage_id IN ({marks})", part)
            )
        connection.execute(
            "INSERT OR REPLACE INTO removed(vector_id, generation)"
            f" SELECT id, ? FROM windows WHERE passage_id IN ({marks})",
            (generation, *part),
        )
        windows += connection.execute(f"DELETE FROM windows WHERE passage_id IN ({marks})", tuple(part)).rowcount
        connection.execute(f"DELETE FROM sentences WHERE passage_id IN ({marks})", tuple(part))
        connection.execute(f"DELETE FROM passages WHERE id IN ({marks})", tuple(part))
    return Totals(len(ids), windows, sum(row[1] for row in rows))


def write_file(
    connection: sqlite3.Connection, source: str, signature: Signature, sha256: str, title: str, skipped: str | None
) -> None:
    """Record a file as read now (its size and time, the hash of its bytes, its title, why it is skipped)."""
    connection.execute(
        "INSERT OR REPLACE INTO files(source, size, mtime_ns, sha256, title, skipped, indexed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (source, signature.size, signature.mtime_ns, sha256, title, skipped, time.time()),
    )


def delete_file(connection: sqlite3.Connection, source: str) -> None:
    """Forget a file that is gone (its passages are dropped by :func:`drop_file`)."""
    connection.execute("DELETE FROM files WHERE source = ?", (source,))


def good_vectors(connection: sqlite3.Connection, hashes: Sequence[str], dimension: int) -> tuple[set[str], int]:
    """The hashes with a valid stored vector, and how many stored ones are damaged (wrong size, not unit vectors)."""
    found: dict[str, bytes] = {}
    for part in db.chunks(list(hashes)):
        rows = connection.execute(
            f"SELECT sha256, vector FROM embeddings WHERE sha256 IN ({db.placeholders(len(part))})", tuple(part)
        ).fetchall()
        found.update(rows)
    names = list(found)
    _, sound = checked_vectors([found[n] for n in names], dimension)
    good = {n for n, ok in zip(names, sound.tolist(), strict=True) if ok}
    return good, len(found) - len(good)


def store_vectors(connection: sqlite3.Connection, hashes: Sequence[str], vectors: np.ndarray) -> None:
    """Store the vectors of ``hashes`` in one transaction (replacing damaged ones)."""
    with db.transaction(connection):
        connection.executemany(
            "INSERT OR REPLACE INTO embeddings(sha256, vector) VALUES (?, ?)",
            [(h, encode_vector(v)) for h, v in zip(hashes, vectors, strict=True)],
        )


def file_count(connection: sqlite3.Connection) -> int:
    """Files the index knows of, read or skipped."""
    return int(connection.execute("SELECT count(*) FROM files").fetchone()[0])


def file_totals(connection: sqlite3.Connection) -> tuple[int, list[tuple[str, str]]]:
    """Files indexed, and the skipped ones with their reasons, by name."""
    files, skipped = 0, []
    for source, reason in connection.execute("SELECT source, skipped FROM files ORDER BY source"):
        if reason is None:
            files += 1
        else:
            skipped.append((source, reason))
    return files, skipped
