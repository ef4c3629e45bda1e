"""The documents panel's behaviour without the web: list, add and remove the corpus's files.

Adding writes the files into the corpus (:mod:`qa.web.uploads`) and brings the live index
up to date at once, so that the panel can say what became of each file; removing moves
a file to the trash beside the index and updates the index the same way. Both are refused,
with the reason, where the server's :class:`~qa.web.access.Access` says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import IndexBusyError, QAError, QueryError
from ..live import LiveIndex
from ..store.catalog import DocumentInfo
from .access import Access
from .uploads import Added, add_files, remove_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """What an upload did: each file's fate, and the paragraphs or skip reason of those added.

    Attributes:
        added: One entry per file, in order.
        paragraphs: Paragraphs indexed, by the source of each added file now indexed.
        skipped: Why an added file is not indexed, by its source.
        error: Why the index could not be brought up to date (the files stay added).

    """

    added: tuple[Added, ...]
    paragraphs: dict[str, int]
    skipped: dict[str, str]
    error: str = ""


class Documents:
    """The corpus's documents, as the panel lists, adds and removes them."""

    def __init__(self, live: LiveIndex, access: Access) -> None:
        """Work on the corpus of ``live``, as far as ``access`` allows."""
        self.live = live
        self.access = access

    def listing(self) -> list[DocumentInfo]:
        """Every file the index records, indexed or skipped, sorted by path."""
        return self.live.current().documents()

    def _refuse_changes(self) -> None:
        """Raise the server's reason if documents may not be changed here."""
        if not self.access.changes:
            raise QueryError(self.access.why_not)

    def add(self, files: Sequence[tuple[str, Path]]) -> Upload:
        """Add uploaded files (``(name given, path of the upload)``) to the corpus and index them now.

        Raises:
            QueryError: Changes are not allowed here, or the upload holds too many files.
            CorpusError: The uploads folder cannot be used.

        """
        self._refuse_changes()
        if len(files) > self.access.limits.max_files:
            raise QueryError(
                f"{len(files)} files at once is more than the {self.access.limits.max_files} one upload may hold"
            )
        index = self.live.current()
        known = {digest: source for source, digest in index.manifest.files.items()}
        received = [(name, _read(path, self.access.limits.max_file_mb)) for name, path in files]
        added = add_files(self.live.corpus, received, limits=self.access.limits, known=known, folder=self.access.folder)
        error = ""
        if any(item.outcome == "added" for item in added):
            try:
                # Not waiting for another process's update (a `qa index` may run for minutes).
                index = self.live.refresh(wait=False)
            except IndexBusyError:
                error = "another update of the index is running: the files are indexed as soon as it ends"
            except (QAError, OSError) as exc:
                # The files are in the corpus: the background watcher indexes them once it can.
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                error = f"the files were added but could not be indexed yet ({reason})"
        return _outcome(added, index.documents(), error)

    def remove(self, source: object) -> str:
        """Move a document to the trash beside the index and take it out of the index; what happened, in words.

        Raises:
            QueryError: Changes are not allowed here, or ``source`` names no file of the corpus.
            CorpusError: The file cannot be moved.

        """
        self._refuse_changes()
        if not isinstance(source, str) or not source:
            raise QueryError("choose a document to remove")
        # Only what the panel lists: a file the index never recorded is not a document here.
        if source not in {document.source for document in self.listing()}:
            raise QueryError(f"{source} is not a document of this index")
        moved = remove_file(self.live.corpus, self.live.folder, source)
        kept = f"the trash of the index folder as {moved.name}"
        try:
            self.live.refresh(wait=False)
        except IndexBusyError:
            return f"{source} was removed (kept in {kept}); it leaves the index when the running update ends"
        except QAError as exc:
            return f"{source} was moved to {kept}, but the index could not be updated yet ({exc})"
        return f"{source} was removed: it is kept in {kept} until you delete it"


def _read(path: Path, limit_mb: float) -> bytes:
    """An uploaded file's bytes, or none past the size limit (the check then says it is too large)."""
    limit = int(limit_mb * 1024 * 1024)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            # One byte past the limit is enough to refuse it: nothing larger is read into memory.
            return handle.read(min(size, limit) + 1)
    except OSError as exc:
        log.warning("an uploaded file could not be read: %s", exc)
        return b""


def _outcome(added: Sequence[Added], documents: Sequence[DocumentInfo], error: str) -> Upload:
    """Each added file's paragraphs or skip reason, as the index now records it."""
    by_source = {d.source: d for d in documents}
    paragraphs = {
        item.source: by_source[item.source].paragraphs
        for item in added
        if item.source in by_source and by_source[item.source].skipped is None
    }
    skipped = {
        item.source: str(by_source[item.source].skipped)
        for item in added
        if item.source in by_source and by_source[item.source].skipped is not None
    }
    return Upload(tuple(added), paragraphs, skipped, error)
