"""A live index: watches the corpus, applies changes in the background and swaps snapshots.

Used alike by ``qa serve`` (a background thread), ``qa ask`` and programs (one
synchronous :meth:`LiveIndex.refresh`). Questions are answered from the last committed
state while an update runs; a failed update is reported once and retried with a back-off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .answer.compose import corpus_gone_message
from .config import Settings
from .embed.embedder import Embedder
from .errors import CorpusError, IndexAccessError, IndexBusyError, QAError
from .index import Index, build_index, ensure_index, load_index
from .ingest.sources import UNREADABLE, FolderSource
from .store.changes import diff, retry_raised_limits
from .store.database import state_of, writable
from .store.runs import UpdateProgress

log = logging.getLogger(__name__)

#: Seconds between looks at the corpus folder and the index for changes.
CHECK_INTERVAL = 2.0
#: First and longest wait before retrying a failed update.
RETRY_FIRST = 5.0
RETRY_MAX = 300.0
#: Least seconds between two reopenings of the index during one update.
MIN_RELOAD_GAP = 1.0


@dataclass(frozen=True)
class LiveStatus:
    """What the live index is doing, for a status line.

    Attributes:
        state: ``ready``, ``updating`` or ``failed``.
        generation: The commit being served.
        passages: Paragraphs in the served state.
        files_pending: Files still to apply in the running update.
        embedded: Paragraph windows embedded so far in the running update.
        stage: The running update's stage.
        error: The last failure, while it stands.
        retry_in: Seconds until the next attempt after a failure.
        files: Files in the served state.
        updated: When the served state's content last changed (seconds since the epoch;
            for an index written before this was recorded, when it was taken up).

    """

    state: str
    generation: int
    passages: int
    files_pending: int = 0
    embedded: int = 0
    stage: str = ""
    error: str = ""
    retry_in: float = 0.0
    files: int = 0
    updated: float = 0.0

    def describe(self) -> str:
        """One line for people, e.g. ``Updating (embedding): 3 files to go, 120 paragraphs embedded. …``."""
        if self.state == "updating":
            detail = f"{self.files_pending} {'file' if self.files_pending == 1 else 'files'} to go"
            if self.embedded:
                detail += f", {self.embedded} paragraphs embedded"
            return f"Updating ({self.stage}): {detail}. Answers come from the last complete state."
        if self.state == "failed":
            return f"The last update failed: {self.error}. Retrying in {self.retry_in:.0f} s."
        return f"Up to date: {self.passages} paragraphs."


class LiveIndex:
    """Holds the newest committed :class:`Index` of a folder and keeps it current."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        corpus: str | os.PathLike[str] | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        index: Index | None = None,
        interval: float = CHECK_INTERVAL,
        model: str | None = None,
        notify: Callable[[str], None] = lambda _message: None,
        default_corpus: str | os.PathLike[str] = "seeds",
        read_only: bool = False,
    ) -> None:
        """Serve the index in ``folder`` (built from ``corpus`` if there is none yet).

        Args:
            folder: The index folder.
            corpus: The corpus folder; defaults to the one the index records.
            settings: Retrieval settings.
            embedder: The model, shared by every state served.
            index: An already opened state to start from.
            interval: Seconds between looks for changes in the background.
            model: The model the caller expects; an index built with another is refused.
            notify: Receives one-line messages (building, updating) for a terminal.
            default_corpus: Corpus to build from when ``corpus`` is not given and there is
                no index yet (``seeds``, or the CLI's ``$QA_CORPUS``).
            read_only: Never update the index (a replica of one another process writes,
                ``qa serve --read-only``): only its writer's commits are picked up. An index
                this process may not write is served so whatever this says.

        """
        self.folder = Path(folder)
        self._corpus = Path(corpus) if corpus is not None else None
        self._default_corpus = default_corpus
        self._settings = settings or Settings()
        self._embedder = embedder
        self._interval = interval
        self._model = model
        self._notify = notify
        self._lock = threading.Lock()
        self._update_lock = threading.Lock()
        self._index: Index | None = index
        self._status = LiveStatus(
            "ready",
            index.generation if index else 0,
            len(index) if index else 0,
            files=len(index.manifest.files) if index else 0,
            updated=_updated(index) if index else 0.0,
        )
        self._failures = 0
        self._retry_at = 0.0
        self._last_reload = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress_bar = False
        self._read_only = read_only
        #: Indexed files that could not be read when last looked at, and those an update has tried since.
        self._unreadable_seen: set[str] = set()
        self._unreadable_tried: set[str] = set()

    # -- reading ------------------------------------------------------------------------------

    def current(self) -> Index:
        """The newest committed state (opened or built on first use; a read-only one is only opened).

        Raises:
            IndexNotFoundError: A read-only live index finds no index to open.

        """
        with self._lock:
            if self._index is None and self._read_only:
                # A replica opens what its writer built, as it is: it never builds, rebuilds or re-points.
                self._index = load_index(
                    self.folder, model=self._model, settings=self._settings, embedder=self._embedder
                )
                self._started(self._index)
            if self._index is None:
                self._index = ensure_index(
                    self.folder,
                    self._corpus,
                    model=self._model,
                    settings=self._settings,
                    refresh=False,
                    progress=self._progress_bar,
                    notify=self._notify,
                    default_corpus=self._default_corpus,
                )
                self._started(self._index)
            return self._index

    def _started(self, index: Index) -> None:
        """Take the first state's model and status (the caller holds the lock)."""
        self._embedder = self._embedder or index.embedder()
        self._show(index)

    def _show(self, index: Index) -> None:
        """Say in the status which state answers (the caller holds the lock)."""
        self._status = replace(
            self._status,
            generation=index.generation,
            passages=len(index),
            files=len(index.manifest.files),
            updated=_updated(index),
        )

    def status(self) -> LiveStatus:
        """What the live index is doing now."""
        with self._lock:
            if self._status.state == "failed":
                return replace(self._status, retry_in=max(0.0, self._retry_at - time.monotonic()))
            return self._status

    @property
    def corpus(self) -> Path:
        """The corpus folder watched."""
        return self._corpus.resolve() if self._corpus is not None else self.current().corpus

    # -- updating -----------------------------------------------------------------------------

    def pending(self) -> bool:
        """Whether the corpus differs from the served state by size or time (no file is read)."""
        index = self.current()
        root = self.corpus
        current = FolderSource(root, limit_mb=index.settings.max_file_mb).scan() if root.is_dir() else {}
        changes = retry_raised_limits(diff(index.snapshot.indexed, current), index.snapshot.indexed, current)
        names = {*changes.added, *changes.changed, *changes.removed}
        # An indexed file that cannot be read keeps what was indexed from it: once tried, it
        # is not tried again every round (it is when its signature shows it can be read).
        unreadable = {name for name in names if current.get(name) == UNREADABLE}
        self._unreadable_seen = unreadable
        return bool(names - (unreadable & self._unreadable_tried))

    def reload(self) -> bool:
        """Swap in a newer state committed by any writer; return whether one was found."""
        index = self.current()
        meta = index.snapshot.meta
        served = (meta.epoch, meta.generation, meta.base_file)
        # A cheap look first: most rounds find nothing new.
        if state_of(self.folder) == served:
            return False
        newer = load_index(self.folder, settings=self._settings, embedder=self._embedder, reuse=index.snapshot.frozen)
        self._last_reload = time.monotonic()
        self._swap(newer)
        return True

    def catch_up(self, *, progress: bool = False) -> Index:
        """The newest state, after applying the corpus's changes now if there are any (as ``qa ask`` does)."""
        self._progress_bar = progress
        index = self.current()
        if self.may_write():
            # A replica answers (quotes unchecked where the folder is gone: said in the answer).
            self._check_corpus()
        changes = index.changes()
        if not changes:
            return index
        if not self.may_write():
            # Another user's index, one on a read-only mount, or a replica: it is read as it is.
            self._notify(
                f"The articles changed since the last build ({changes.describe()}), but the index in"
                f" {self.folder} is read-only here: answering from it as it is."
            )
            return index
        self._notify(f"The articles changed since the last build ({changes.describe()}): updating the index ...")
        try:
            return self.refresh(progress=progress)
        except (IndexAccessError, OSError) as exc:
            # A full disk, a file system gone read-only: the last complete state still answers.
            reason = f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
            self._notify(f"The index could not be updated ({reason}); answering from the last complete state.")
            return self.current()

    def may_write(self) -> bool:
        """Whether this live index updates its index (not read-only, and the folder may be written)."""
        return not self._read_only and writable(self.folder)

    def _check_corpus(self) -> None:
        """Refuse to update from a corpus folder that is gone: every file would count as removed.

        Raises:
            CorpusError: The corpus folder is not there (moved or deleted); the message says how to re-point.

        """
        root = self.corpus
        if not root.is_dir():
            label = self.current().manifest.corpus_label
            raise CorpusError(corpus_gone_message(label, root))

    def refresh(self, *, wait: bool = True, progress: bool = False) -> Index:
        """Apply the corpus's changes now and serve the result.

        Raises:
            IndexBusyError: Another process is updating and ``wait`` is false.
            QAError: The update failed; the last committed state is still served.

        """
        with self._update_lock:
            index = self.current()
            root = self.corpus
            updated = build_index(
                root,
                self.folder,
                settings=index.settings,
                embedder=self._embedder or index.embedder(),
                progress=progress,
                label=index.manifest.corpus_label,
                wait=wait,
                on_progress=self._progress,
                on_commit=lambda _generation: self._reload_quietly(),
            )
            self._swap(updated)
            return updated

    def _reload_quietly(self) -> None:
        """Serve a commit as soon as it lands, mid-update; failures wait for the end of the update."""
        # A long first build commits often: reopening after every chunk would cost more than it serves.
        if time.monotonic() - self._last_reload < MIN_RELOAD_GAP:
            return
        try:
            self.reload()
        except QAError as exc:
            log.warning("could not open the new index state yet: %s", exc)

    def _swap(self, index: Index) -> None:
        """Serve ``index`` from now on."""
        with self._lock:
            current = self._index.snapshot.meta if self._index is not None else None
            # An older commit of the same index never replaces a newer one (updates finish out of order).
            if (
                current is not None
                and index.snapshot.meta.epoch == current.epoch
                and index.generation < current.generation
            ):
                return
            self._index = index
            self._show(index)

    def _progress(self, progress: UpdateProgress) -> None:
        """Record a running update's progress for :meth:`status`."""
        with self._lock:
            if progress.stage == "done":
                self._status = replace(self._status, state="ready", files_pending=0, embedded=0, stage="")
            else:
                self._status = replace(
                    self._status,
                    state="updating",
                    stage=progress.stage,
                    files_pending=max(0, progress.files_total - progress.files_done),
                    embedded=progress.embedded,
                    error="",
                )

    def check(self) -> None:
        """One round of the background loop: serve newer commits, apply corpus changes, back off on failure."""
        if time.monotonic() < self._retry_at:
            return
        try:
            self.reload()
            if self.may_write():
                self._check_corpus()
            # A read-only index (a replica, another user's) is served as it is: only reloaded.
            if self.may_write() and self.pending():
                self.refresh(wait=False)
                self._unreadable_tried = self._unreadable_seen
            self._failures = 0
            with self._lock:
                self._status = replace(self._status, state="ready", stage="", files_pending=0, error="")
        except IndexBusyError:
            # Another process (`qa index`) is updating: its commits are picked up by reload().
            with self._lock:
                self._status = replace(self._status, state="updating", stage="another process", files_pending=0)
        except Exception as exc:
            self._failures += 1
            delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (self._failures - 1))
            self._retry_at = time.monotonic() + delay
            message = f"{exc.strerror or exc} ({exc.filename})" if isinstance(exc, OSError) else str(exc)
            if self._failures == 1:
                log.warning(
                    "index update failed (retrying with back-off): %s", message, exc_info=not isinstance(exc, QAError)
                )
            with self._lock:
                self._status = replace(self._status, state="failed", error=message, stage="", files_pending=0)

    def start(self) -> None:
        """Watch the corpus in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self.current()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="qa-live-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _run(self) -> None:
        """The background loop."""
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:
                log.exception("unexpected error in the index watcher")


def _updated(index: Index) -> float:
    """When ``index``'s content last changed, as its writer recorded it (else: now)."""
    return index.snapshot.meta.updated or time.time()
