"""Checksums computed once: what the writer verified is stamped with its file's identity.

Hashing a 1.5 GB vector file takes seconds. A file the writer wrote or checked is recorded
in ``verified.json`` with its SHA-256 and its identity on disk (size, times, inode); an
open that finds the same identity trusts the checksum instead of reading the file again.
Any write to a file changes its modification and change times, so a changed file is
always hashed again. A stamp taken within :data:`RACY_NS` of the file's last change is not
trusted (the file system's clock is coarse: a write in the same tick could leave the times
as they were), so a file written just now is hashed once more on its next open. A stamp
holds the files' identities as seen *before* they were hashed, and is kept only if they
did not change meanwhile.

Readers only read the stamps; the writer records them, under its lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .database import DATABASE

#: The stamps file in an index folder.
STAMPS = "verified.json"
#: A stamp is trusted only if the file last changed at least this long before the stamp was taken
#: (2 s: file systems whose clocks tick in seconds, FAT, HFS+ and some network shares, included).
RACY_NS = 2_000_000_000
#: Largest stamps file read (a few hundred bytes per file stamped).
MAX_STAMPS_BYTES = 1 << 20
#: The key of the database's own stamp (the database with its write-ahead log).
DATABASE_KEY = "database"


def files_sha256(paths: Sequence[Path]) -> str:
    """SHA-256 of the bytes of ``paths`` one after another, read in blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def bytes_sha256(*parts: bytes) -> str:
    """SHA-256 of ``parts`` one after another (a base file's bytes, as read into memory)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    return files_sha256([path])


@dataclass(frozen=True)
class FileStamp:
    """A file's identity on disk: what any write to it changes."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        """The stamp of ``path`` now (``None``: it does not exist or cannot be read)."""
        try:
            status = os.stat(path)
        except OSError:
            return None
        return cls(status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev)


@dataclass(frozen=True)
class Seen:
    """Files' identities as they were at one moment (before they were checked)."""

    files: tuple[FileStamp | None, ...]
    taken_ns: int

    @classmethod
    def now(cls, paths: Sequence[Path]) -> Seen:
        """The identities of ``paths`` now."""
        # The time first: a change made while the files are looked at falls after it.
        taken = time.time_ns()
        return cls(tuple(FileStamp.of(p) for p in paths), taken)


@dataclass(frozen=True)
class Stamp:
    """A verified file: its stamp then, its SHA-256 (``""`` for the database), and when it was taken."""

    files: tuple[FileStamp | None, ...]
    sha256: str
    taken_ns: int

    def matches(self, files: tuple[FileStamp | None, ...], sha256: str) -> bool:
        """Whether the files are as stamped, with the same checksum, and the stamp is not racy."""
        if files != self.files or sha256 != self.sha256:
            return False
        changed = max((max(f.mtime_ns, f.ctime_ns) for f in files if f is not None), default=0)
        return changed + RACY_NS < self.taken_ns


def _database_seen(folder: Path) -> Seen:
    """The identities of the database and its write-ahead log now.

    The log's change time is left out: SQLite touches it when a reader opens or closes the
    database, without writing a byte; any write moves its modification time.
    """
    taken = time.time_ns()
    database, log = FileStamp.of(folder / DATABASE), FileStamp.of(folder / f"{DATABASE}-wal")
    return Seen((database, replace(log, ctime_ns=0) if log is not None else None), taken)


def _read(path: Path) -> dict[str, Stamp]:
    """The stamps in ``path``; none if it is missing, not a small regular file, or malformed in any way."""
    try:
        # Not blocking: a FIFO put in its place is refused, not waited on.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with open(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_STAMPS_BYTES:
                return {}
            raw = json.loads(handle.read(MAX_STAMPS_BYTES))
        stamps = {}
        for name, entry in raw.items():
            files = tuple(None if f is None else FileStamp(*(int(n) for n in f)) for f in entry["files"])
            stamps[str(name)] = Stamp(files, str(entry["sha256"]), int(entry["taken_ns"]))
        return stamps
    except Exception:
        # Damaged stamps (deep nesting, huge numbers, wrong shapes) only cost time: every file is hashed.
        return {}


class Stamps:
    """The stamps of one index folder, read once; :meth:`save` writes them back (the writer only)."""

    def __init__(self, folder: Path) -> None:
        """Read ``folder``'s stamps; a missing, unreadable or malformed file holds none."""
        self.folder = folder
        self._stamps = _read(folder / STAMPS)

    def trusted(self, name: str, paths: Sequence[Path], sha256: str) -> bool:
        """Whether the files ``paths``, verified as ``name``, have ``sha256`` and none has changed since.

        ``paths`` are one vector file, or a keyword segment's arrays.
        """
        stamp = self._stamps.get(name)
        return stamp is not None and stamp.matches(tuple(FileStamp.of(p) for p in paths), sha256)

    def record(self, name: str, seen: Seen, paths: Sequence[Path], sha256: str) -> None:
        """Note that the files ``paths``, called ``name``, have ``sha256``: as ``seen`` before they were checked.

        Nothing is noted if any of them changed since ``seen`` (while it was being read): the
        checksum then speaks for a file that is no longer there.
        """
        if Seen.now(paths).files == seen.files:
            self._stamps[name] = Stamp(seen.files, sha256, seen.taken_ns)

    def database_seen(self) -> Seen:
        """The database's identity now (before it is checked)."""
        return _database_seen(self.folder)

    def database_verified(self) -> bool:
        """Whether the database is as it was when a writer last verified it."""
        stamp = self._stamps.get(DATABASE_KEY)
        return stamp is not None and stamp.matches(_database_seen(self.folder).files, "")

    def record_database(self, seen: Seen) -> None:
        """Note that the database, as ``seen`` before a writer checked it and left it unchanged, is sound."""
        if _database_seen(self.folder).files == seen.files:
            self._stamps[DATABASE_KEY] = Stamp(seen.files, "", seen.taken_ns)

    def forget_database(self) -> None:
        """Drop the database's stamp (it changed, or was found damaged)."""
        self._stamps.pop(DATABASE_KEY, None)

    def save(self, keep: set[str]) -> None:
        """Write the stamps of the files named in ``keep`` (and the database's) atomically; best effort."""
        data = {
            name: {"files": [None if f is None else list(asdict(f).values()) for f in s.files], **_rest(s)}
            for name, s in self._stamps.items()
            if name in keep or name == DATABASE_KEY
        }
        tmp = self.folder / f".tmp-{uuid.uuid4().hex[:8]}-{STAMPS}"
        # A read-only or full folder keeps the old stamps: they only save time.
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, self.folder / STAMPS)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _rest(stamp: Stamp) -> dict[str, object]:
    """A stamp's checksum and time, as stored."""
    return {"sha256": stamp.sha256, "taken_ns": stamp.taken_ns}
