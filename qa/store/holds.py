"""A lock that keeps a state's base files on disk while a reader opens them.

A reader reads which base files the newest state uses, then reads those files; a writer that
froze a newer base removes the old ones. Readers hold this lock shared across both steps; the
writer removes superseded base files only while it holds the lock alone, and otherwise leaves
them for its next update (an idle one too), so a reader never finds its state's files gone,
however often a writer freezes. The lock is an ``flock`` on a file of the index folder (the kernel lets it go
when its holder dies), and within one process a count of the readers opening, which holds
even where the file system emulates ``flock`` per process (NFS). A reader never waits long:
where the lock cannot be had (a read-only folder without the file, a writer stopped while it
removes, something that is no plain file at its path), it goes on without it and falls back on
reading the state again.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: The lock file readers share while they open a state.
LOCK_FILE = "readers.lock"
#: How long a writer waits for readers that are opening a state before it leaves the old files for later.
WAIT_SECONDS = 2.0
#: How long a reader waits for a writer that is removing old files before it goes on without the lock.
READ_WAIT_SECONDS = 5.0
#: Pause between tries.
_POLL_SECONDS = 0.01

#: Readers of this process opening a state, by index folder.
_OPENING: collections.Counter[str] = collections.Counter()
_OPENING_LOCK = threading.Lock()


def _open(folder: Path) -> int | None:
    """A descriptor of the folder's lock file (made if allowed), or ``None`` where there is no plain file to be had.

    Read-only is enough for either kind of ``flock``; it never blocks (a FIFO put there) nor follows a link.
    """
    flags = os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        descriptor = os.open(folder / LOCK_FILE, flags, 0o644)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return None
    return descriptor


def _key(folder: Path) -> str:
    """The folder as one name, however it was reached."""
    return os.path.realpath(folder)


def _take(descriptor: int, how: int, deadline: float) -> bool | None:
    """Take the lock ``how``, trying until ``deadline``.

    Returns:
        ``True`` when taken, ``False`` when held against us, ``None`` where the file system has no locks.

    """
    while True:
        try:
            fcntl.flock(descriptor, how | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)
        except OSError:
            return None


@contextlib.contextmanager
def opening(folder: Path) -> Iterator[None]:
    """Hold the folder's base files in place (shared with other readers) while a state is opened."""
    key = _key(folder)
    with _OPENING_LOCK:
        _OPENING[key] += 1
    descriptor = _open(folder)
    try:
        if descriptor is not None:
            # A writer holds it alone only while it removes old files (a moment); other readers share it.
            _take(descriptor, fcntl.LOCK_SH, time.monotonic() + READ_WAIT_SECONDS)
        yield
    finally:
        with _OPENING_LOCK:
            _OPENING[key] -= 1
            if not _OPENING[key]:
                del _OPENING[key]
        if descriptor is not None:
            # Closing the descriptor lets the lock go.
            os.close(descriptor)


@contextlib.contextmanager
def removing(folder: Path, *, wait: float | None = None) -> Iterator[bool]:
    """Whether superseded base files may be removed now: no reader is opening a state (held until the block ends).

    Readers that start opening after this returns read the newest committed state, whose files stay.
    ``wait`` (default :data:`WAIT_SECONDS`) bounds the wait for readers that are opening one.
    """
    deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
    path = folder / LOCK_FILE
    descriptor = _open(folder)
    if descriptor is None:
        # Without the file no reader can hold it; with something else there, readers may be opening unseen.
        alone = not os.path.lexists(path)
        if not alone:
            log.warning("%s cannot be opened or is no plain file: superseded index files are kept for now", path)
        yield alone and _no_reader_here(folder, deadline)
        return
    try:
        taken = _take(descriptor, fcntl.LOCK_EX, deadline)
        yield taken is not False and _no_reader_here(folder, deadline)
    finally:
        os.close(descriptor)


def _no_reader_here(folder: Path, deadline: float) -> bool:
    """Whether no reader of this process is opening a state of ``folder`` (waiting until ``deadline``)."""
    key = _key(folder)
    while True:
        with _OPENING_LOCK:
            if not _OPENING[key]:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
