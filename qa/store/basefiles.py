"""The frozen part of a state (vector file and keyword segment) and the watch on its files.

Base files are read into memory when a state is opened; a snapshot never reads them again.
Before each search the files are compared with what was read (size, times, inode): a file
truncated, overwritten or replaced since cannot change an answer, but it is reported once,
so that the person running the server repairs it before the next start.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import QAError
from . import database as db
from .integrity import FileStamp
from .segments import Segment, array_files
from .vectors import BaseVectors

log = logging.getLogger(__name__)

#: Base files whose change has been reported (each change once per process).
_REPORTED: set[tuple[Path, FileStamp | None]] = set()
_REPORTED_LOCK = threading.Lock()


@dataclass(frozen=True)
class Base:
    """The frozen part of a state: vector file and keyword segment (both or neither), read into memory."""

    vectors: BaseVectors | None = None
    segment: Segment | None = None

    def files(self) -> list[tuple[Path, FileStamp | None]]:
        """Each base file with its stamp as it was when read."""
        found: list[tuple[Path, FileStamp | None]] = []
        if self.vectors is not None:
            found.append((self.vectors.path, self.vectors.stamp))
        if self.segment is not None and self.segment.path is not None:
            found.extend(zip(array_files(self.segment.path), self.segment.stamps, strict=False))
        return found

    def changed(self) -> list[Path]:
        """The base files that are no longer as they were read (changed, truncated, replaced or gone)."""
        return [path for path, stamp in self.files() if stamp is not None and FileStamp.of(path) != stamp]

    def superseded(self) -> bool:
        """Whether the index's newest committed state has another base than this one."""
        if self.vectors is None:
            return False
        try:
            return db.state_of(self.vectors.path.parent)[2] != self.vectors.path.name
        except QAError:
            return False

    def check(self) -> str | None:
        """Compare the files with what was read; a change is logged once and described, else ``None``.

        The answers stay right either way: they come from the copy checked when it was read.
        """
        changed = self.changed()
        if not changed or (all(not path.exists() for path in changed) and self.superseded()):
            # A writer froze a newer base and removed this one: nothing is wrong with the folder.
            return None
        names = ", ".join(str(path) for path in changed)
        message = (
            f"index file changed on disk since it was opened: {names}; answers come from the copy"
            " checked when it was opened; run `qa index` to repair the folder before the next start"
        )
        with _REPORTED_LOCK:
            fresh = {(path, FileStamp.of(path)) for path in changed} - _REPORTED
            _REPORTED.update(fresh)
        if fresh:
            log.warning("%s", message)
        return message
