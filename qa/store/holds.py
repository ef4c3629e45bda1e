"""A lock that keeps a state's base files on disk while a reader opens them.

A reader reads which base files the newest state uses, then reads those files; a writer that
froze a newer base removes the old ones. Readers hold this lock shared across both steps; the
writer removes superseded base files only while it holds the lock alone, and otherwise leaves
them for its next clean, so a reader never finds its state's files gone, however often a
writer freezes. The lock is an ``flock`` on a file of the index folder: the kernel lets it go
when its holder dies. Where the file cannot be made or locked (a read-only folder without it,
a file system without locks), readers go on without it and fall back on reading again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

#: The lock file readers share while they open a state.
LOCK_FILE = "readers.lock"
#: How long a writer waits for readers that are opening a state before it leaves the old files for later.
WAIT_SECONDS = 2.0
#: Pause between a writer's tries.
_POLL_SECONDS = 0.02


def _open(folder: Path, flags: int) -> int | None:
    """A descriptor of the folder's lock file (made if allowed), or ``None`` where there is none to be had."""
    try:
        return os.open(folder / LOCK_FILE, flags | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError:
        return None


@contextlib.contextmanager
def opening(folder: Path) -> Iterator[None]:
    """Hold the folder's base files in place (shared with other readers) while a state is opened."""
    descriptor = _open(folder, os.O_RDONLY)
    if descriptor is None:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            # Waits only while a writer removes old files (a moment); other readers share it.
            fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        # Closing the descriptor lets the lock go.
        os.close(descriptor)


@contextlib.contextmanager
def removing(folder: Path, *, wait: float | None = None) -> Iterator[bool]:
    """Whether superseded base files may be removed now: no reader is opening a state (held until the block ends).

    Readers that start opening after this returns read the newest committed state, whose files stay.
    ``wait`` (default :data:`WAIT_SECONDS`) bounds the wait for readers that are opening one.
    """
    descriptor = _open(folder, os.O_RDWR)
    if descriptor is None:
        # No lock file can be made here, so no reader holds one: as before there were holds.
        yield True
        return
    try:
        yield _exclusive(descriptor, time.monotonic() + (WAIT_SECONDS if wait is None else wait))
    finally:
        os.close(descriptor)


def _exclusive(descriptor: int, deadline: float) -> bool:
    """Take the lock alone, trying until ``deadline``; ``True`` also where the file system has no locks."""
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)
        except OSError:
            return True
