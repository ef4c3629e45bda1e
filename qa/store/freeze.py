"""Freezing the base: every vector into one FAISS file and every passage's terms into one keyword segment.

Done when a tenth of the vectors (at least :data:`MERGE_MIN`) changed since the last base, or it is damaged; between
bases, readers search the changes exactly from the database. Afterwards the folder is
cleaned of files nothing refers to, and vectors nothing uses are swept from the database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError
from . import database as db
from . import holds
from .codec import checked_vectors
from .integrity import Seen, Stamps
from .repair import Repairs
from .segments import Segment, array_files, write_segment
from .vectors import BaseVectors, write_base

#: The base vector file is rewritten once this many vectors changed since it was written
#: (or a tenth of it, whichever is more); below, changes are searched exactly from the database.
MERGE_MIN = 5000


def base_ok(folder: Path, meta: db.Meta, stamps: Stamps, *, trust: bool = True) -> bool:
    """Whether the base vector file and keyword segment are sound: stamped unchanged, or opened and checksummed now.

    Files checked now are stamped as they were before the check, so that the next open need
    not read them again. ``trust=False`` checks them whatever the stamps say.
    """
    vectors, segment = [folder / meta.base_file], array_files(folder / meta.lexical_file)
    if (
        trust
        and stamps.trusted(meta.base_file, vectors, meta.base_sha256)
        and stamps.trusted(meta.lexical_file, segment, meta.lexical_sha256)
    ):
        return True
    seen_vectors, seen_segment = Seen.now(vectors), Seen.now(segment)
    try:
        BaseVectors.open(vectors[0], sha256=meta.base_sha256, count=meta.base_count, dimension=meta.dimension)
        Segment.open(folder / meta.lexical_file, meta.lexical_sha256)
    except IndexCorruptError:
        return False
    stamps.record(meta.base_file, seen_vectors, vectors, meta.base_sha256)
    stamps.record(meta.lexical_file, seen_segment, segment, meta.lexical_sha256)
    return True


def freeze(
    connection: sqlite3.Connection, folder: Path, repairs: Repairs, stamps: Stamps, *, trust: bool = True
) -> bool:
    """Rewrite the base when enough changed since it was written, or it is damaged (``trust``: see :func:`base_ok`).

    Returns:
        Whether it was rewritten (then every unused vector is swept, not only those just dropped).

    """
    meta = db.Meta.read(connection, folder)
    delta = connection.execute(
        "SELECT (SELECT count(*) FROM windows w JOIN passages p ON p.id = w.passage_id WHERE p.generation > ?)"
        " + (SELECT count(*) FROM removed WHERE generation > ?)",
        (meta.base_generation, meta.base_generation),
    ).fetchone()[0]
    damaged = bool(meta.base_file) and not base_ok(folder, meta, stamps, trust=trust)
    if damaged:
        repairs.add(
            f"vector file {meta.base_file} and keyword segment {meta.lexical_file} rebuilt",
            "The vector file or keyword segment was damaged; rebuilding them from the database.",
        )
    if not damaged and delta <= max(MERGE_MIN, meta.base_count // 10):
        return False
    total = connection.execute("SELECT count(*) FROM windows").fetchone()[0]
    if total == 0:
        with db.transaction(connection):
            empty = {"base_file": "", "base_generation": meta.generation, "base_sha256": "", "base_count": 0}
            db.write_meta(connection, {**empty, "lexical_file": "", "lexical_sha256": ""})
            connection.execute("DELETE FROM lexical_terms")
        return True
    token = uuid.uuid4().hex[:12]
    name, lexical_name = f"vectors-{token}.faiss", f"lexical-{token}"
    digest = write_base(folder / name, lambda: _all_vectors(connection, folder, meta.dimension), total, meta.dimension)
    # The keyword segment covers the same passages as the vector file: all of them, now.
    documents = connection.execute("SELECT id, terms FROM passages ORDER BY id")
    lexical_digest, vocabulary = write_segment(folder / lexical_name, documents)
    # Written just now: stamped, but not trusted before a later check finds them unchanged.
    for file, paths, sha in (
        (name, [folder / name], digest),
        (lexical_name, array_files(folder / lexical_name), lexical_digest),
    ):
        stamps.record(file, Seen.now(paths), paths, sha)
    with db.transaction(connection):
        connection.execute("DELETE FROM lexical_terms")
        connection.executemany("INSERT INTO lexical_terms(term, col) VALUES (?, ?)", vocabulary.items())
        db.write_meta(
            connection,
            {
                "base_file": name,
                "base_generation": meta.generation,
                "base_sha256": digest,
                "base_count": total,
                "lexical_file": lexical_name,
                "lexical_sha256": lexical_digest,
            },
        )
        connection.execute("DELETE FROM removed WHERE generation <= ?", (meta.generation,))
    return True


def _all_vectors(
    connection: sqlite3.Connection, folder: Path, dimension: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(ids, vectors)`` batches of every stored window, checked as they are read."""
    cursor = connection.execute(
        "SELECT w.id, e.vector FROM windows w JOIN embeddings e ON e.sha256 = w.sha256 ORDER BY w.id"
    )
    while rows := cursor.fetchmany(20_000):
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors, good = checked_vectors([r[1] for r in rows], dimension)
        if not good.all():
            raise IndexCorruptError(f"stored vectors in {folder} are damaged; run `qa index --check` to repair them")
        yield ids, vectors


def clean(connection: sqlite3.Connection, folder: Path, dropped: set[str], *, sweep_all: bool) -> None:
    """Remove temporary files, unreferenced base files, old-format files and unused vectors.

    Args:
        connection: The database.
        folder: The index folder.
        dropped: Hashes of vectors whose windows or sentences were deleted (maybe unused now).
        sweep_all: Sweep every vector nothing uses (after a rebuild of the base), not only ``dropped``.

    """
    meta = db.Meta.read(connection, folder)
    # Only names this package writes: an index folder may sit beside other files.
    stale = [
        path
        for path in folder.iterdir()
        if path.name.startswith(".tmp-") or (path.name.startswith("passages-") and path.name.endswith(".jsonl"))
    ]
    with holds.removing(folder) as alone:
        # A reader may be opening the state these belonged to: they wait for the next update.
        for path in stale + (superseded(folder, meta) if alone else []):
            _remove(path)
    if sweep_all or dropped:
        _sweep(connection, dropped, sweep_all=sweep_all)
    # What was written goes into the database file now, rather than at some reader's close.
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


def superseded(folder: Path, meta: db.Meta) -> list[Path]:
    """Base files of ``folder`` that the committed state ``meta`` does not use."""
    return [
        path
        for path in folder.iterdir()
        if (path.name.startswith("vectors-") and path.name.endswith(".faiss") and path.name != meta.base_file)
        or (path.is_dir() and path.name.startswith("lexical-") and path.name != meta.lexical_file)
    ]


def _remove(path: Path) -> None:
    """Remove a file, or a folder as a whole."""
    if not path.is_dir():
        path.unlink(missing_ok=True)
        return
    # Renamed first, so that the folder disappears at once rather than file by file.
    doomed = path if path.name.startswith(".tmp-") else path.with_name(f".tmp-gone-{path.name}")
    os.replace(path, doomed)
    # A folder its owner cannot list (chmod 000) is given its permissions back first.
    with contextlib.suppress(OSError):
        os.chmod(doomed, stat.S_IRWXU)
    shutil.rmtree(doomed, ignore_errors=True)


def _sweep(connection: sqlite3.Connection, dropped: set[str], *, sweep_all: bool) -> None:
    """Delete the vectors no window or sentence uses: all of them, or those among ``dropped``."""
    with db.transaction(connection):
        if sweep_all:
            connection.execute(
                "DELETE FROM embeddings WHERE sha256 NOT IN (SELECT sha256 FROM windows)"
                " AND sha256 NOT IN (SELECT sha256 FROM sentences)"
            )
            return
        for part in db.chunks(sorted(dropped)):
            marks = db.placeholders(len(part))
            connection.execute(
                f"DELETE FROM embeddings WHERE sha256 IN ({marks})"
                f" AND sha256 NOT IN (SELECT sha256 FROM windows WHERE sha256 IN ({marks}))"
                f" AND sha256 NOT IN (SELECT sha256 FROM sentences WHERE sha256 IN ({marks}))",
                (*part, *part, *part),
            )
