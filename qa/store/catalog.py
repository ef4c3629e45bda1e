"""What an index holds, file by file: for the list of documents people see, and one file's paragraphs."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..text.passages import Passage
from .database import chunks, columns, placeholders

#: Characters of a document's first paragraph listed with it.
LEAD_CHARS = 300

#: The columns of a passage row, in :class:`Passage` order.
PASSAGE_COLUMNS = (
    "source, paragraph, start_line, end_line, start_char, end_char, text, sha256,"
    " page, end_page, page_paragraph, section"
)


@dataclass(frozen=True)
class DocumentInfo:
    """One file of the corpus as the index knows it.

    Attributes:
        source: Path relative to the corpus folder.
        title: Its title (heading, metadata or first line), ``""`` if it has none.
        skipped: Why it is not indexed, in the reader's or the scan's words (``None``: indexed).
        paragraphs: Paragraphs indexed.
        pages: Pages its paragraphs reach (PDF only; ``None`` for other formats).
        size: Size in bytes when it was read (-1: never read, as for a type no reader takes).
        indexed: When it was last read (seconds since the epoch; ``None``: before that was recorded).
        lead: The start of its first paragraph (at most :data:`LEAD_CHARS` characters; ``""``: none).

    """

    source: str
    title: str
    skipped: str | None
    paragraphs: int
    pages: int | None
    size: int
    indexed: float | None
    lead: str = ""

    @property
    def kind(self) -> str:
        """The file's format, by its ending (``pdf``, ``docx``, ``md``, ``html``, ``txt``, …)."""
        name = self.source.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def documents(connection: sqlite3.Connection) -> list[DocumentInfo]:
    """Every file the index records, indexed or skipped, sorted by path."""
    # An index written before ``files.indexed`` existed lacks the column until its next update.
    indexed = "f.indexed" if "indexed" in columns(connection, "files") else "NULL"
    rows = connection.execute(
        f"SELECT f.source, f.title, f.skipped, count(p.id), max(coalesce(p.end_page, p.page)), f.size, {indexed},"
        f" coalesce((SELECT substr(q.text, 1, {LEAD_CHARS}) FROM passages q WHERE q.source = f.source"
        " ORDER BY q.paragraph LIMIT 1), '')"
        " FROM files f LEFT JOIN passages p ON p.source = f.source GROUP BY f.source ORDER BY f.source"
    ).fetchall()
    return [DocumentInfo(*row) for row in rows]


def passages_of(connection: sqlite3.Connection, source: str) -> list[Passage]:
    """The paragraphs of one file, in order (none if it is not indexed)."""
    rows = connection.execute(
        f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE source = ? ORDER BY paragraph", (source,)
    ).fetchall()
    return [Passage(*row) for row in rows]


def sources_of(connection: sqlite3.Connection, passage_ids: Sequence[int]) -> dict[int, str]:
    """The file of each of ``passage_ids`` that the database holds."""
    ids = list(dict.fromkeys(int(p) for p in passage_ids))
    found: dict[int, str] = {}
    for part in chunks(ids):
        marks = placeholders(len(part))
        found.update(connection.execute(f"SELECT id, source FROM passages WHERE id IN ({marks})", tuple(part)))
    return found


def sizes_of(connection: sqlite3.Connection, sources: Sequence[str]) -> dict[str, int]:
    """How many passages each of ``sources`` has."""
    names = list(dict.fromkeys(sources))
    found: dict[str, int] = {}
    for part in chunks(names):
        marks = placeholders(len(part))
        query = f"SELECT source, COUNT(*) FROM passages WHERE source IN ({marks}) GROUP BY source"
        found.update(connection.execute(query, tuple(part)))
    return found
