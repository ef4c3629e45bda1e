"""The one change detector: how a corpus differs from what an index holds.

Files are compared by size and modification time first (no file is read); a file whose
size or time changed is edited only if its bytes hash differently (:func:`confirm`). The
writer, :meth:`qa.index.Index.changes` and :meth:`qa.live.LiveIndex.pending` all ask here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import SettingsError
from ..ingest.readers import POOL, over_a_raised_limit
from ..ingest.sources import IndexedFile, Signature

__all__ = ["CorpusChanges", "IndexedFile", "confirm", "diff", "indexed_files", "retry_raised_limits"]


@dataclass(frozen=True)
class CorpusChanges:
    """How the corpus folder differs from what the index holds."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        """True when anything changed."""
        return bool(self.added or self.removed or self.changed)

    def __len__(self) -> int:
        """Files to update."""
        return len(self.added) + len(self.removed) + len(self.changed)

    def describe(self) -> str:
        """One line, e.g. ``1 file added (a.txt), 1 edited (b.txt)``."""
        parts = []
        for verb, names in (("added", self.added), ("edited", self.changed), ("removed", self.removed)):
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                parts.append(f"{len(names)} {'file' if len(names) == 1 else 'files'} {verb} ({shown})")
        return "; ".join(parts) if parts else "no changes"


def indexed_files(connection: sqlite3.Connection) -> dict[str, IndexedFile]:
    """The ``files`` table of an index database."""
    rows = connection.execute("SELECT source, size, mtime_ns, sha256, skipped FROM files").fetchall()
    return {source: IndexedFile(size, mtime, sha, skipped) for source, size, mtime, sha, skipped in rows}


def diff(indexed: Mapping[str, IndexedFile], current: Mapping[str, Signature]) -> CorpusChanges:
    """Files added, removed, and whose size or modification time changed."""
    return CorpusChanges(
        added=tuple(sorted(set(current) - set(indexed))),
        removed=tuple(sorted(set(indexed) - set(current))),
        changed=tuple(
            sorted(
                name
                for name in set(current) & set(indexed)
                if (current[name].size, current[name].mtime_ns) != (indexed[name].size, indexed[name].mtime_ns)
            )
        ),
    )


def confirm(changes: CorpusChanges, indexed: Mapping[str, IndexedFile], sha256: Callable[[str], str]) -> CorpusChanges:
    """``changes`` with only the files whose bytes now hash differently counted as edited.

    Args:
        changes: What :func:`diff` found.
        indexed: What the index holds.
        sha256: Reads a file's bytes (no reader runs) and gives their hash, or why it is skipped.

    """
    edited = tuple(name for name in changes.changed if sha256(name) != indexed[name].sha256)
    return CorpusChanges(added=changes.added, removed=changes.removed, changed=edited)


def retry_raised_limits(
    changes: CorpusChanges, indexed: Mapping[str, IndexedFile], current: Mapping[str, Signature]
) -> CorpusChanges:
    """``changes`` plus the unchanged files skipped for a reader limit that has been raised since.

    "took longer than 30 s to read; raise QA_READ_SECONDS to index it": once it is raised, the
    next update reads the file again, though its bytes are the same.
    """
    known = {*changes.added, *changes.changed, *changes.removed}
    skipped = {name: file.skipped for name, file in indexed.items() if file.skipped and name in current}
    if not skipped.keys() - known:
        return changes
    try:
        limits = POOL.current_limits()
    except SettingsError:
        # A malformed limit is said where files are read; it raises no limit here.
        return changes
    retry = [name for name, reason in skipped.items() if name not in known and over_a_raised_limit(reason, limits)]
    if not retry:
        return changes
    return CorpusChanges(changes.added, changes.removed, tuple(sorted({*changes.changed, *retry})))
