"""Reading a committed state: SQLite errors met on the way become the package's errors, damage logged once."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .database import failure

log = logging.getLogger(__name__)

#: Damage already logged by :func:`reading` (each message once per process).
_LOGGED: set[str] = set()
_LOGGED_LOCK = threading.Lock()


@contextmanager
def reading(folder: Path, connection: sqlite3.Connection | None = None) -> Iterator[None]:
    """Turn an SQLite error met while reading a state into the package's error; damage is logged once.

    A database damaged under a running server then answers every request in the normal
    shape, with the error naming the file and what to run, and no traceback per request.

    Raises:
        IndexCorruptError: The database is damaged.
        IndexAccessError: It cannot be read right now (locked, gone).

    """
    try:
        yield
    except sqlite3.DatabaseError as exc:
        error = failure(folder, exc, connection)
        with _LOGGED_LOCK:
            first = str(error) not in _LOGGED
            _LOGGED.add(str(error))
        if first:
            log.error("%s", error)
        raise error from exc
