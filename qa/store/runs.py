"""What an update is given and gives back: its options and hooks, its progress, its report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..build.backend import BuildBackend


def _ignore(_value: object) -> None:
    """A hook that does nothing."""


@dataclass(frozen=True)
class BuildReport:
    """What an update did, for the person who ran it."""

    files: int
    passages: int
    vectors: int
    embedded: int
    reused: int
    windowed: int
    skipped: tuple[tuple[str, str], ...]
    seconds: float
    updated_files: int = 0
    repaired: tuple[str, ...] = ()
    model: str = ""
    #: Where the corpus was, when this update re-pointed the index at another folder (else ``""``).
    moved_from: str = ""


@dataclass(frozen=True)
class UpdateProgress:
    """Where a running update is, for status lines and progress bars.

    Attributes:
        stage: ``scanning``, ``embedding``, ``committing``, ``merging`` or ``done``.
        files_done: Files applied so far.
        files_total: Files to apply in this update.
        embedded: Paragraph windows embedded so far.
        to_embed: Windows known to need embedding so far.

    """

    stage: str
    files_done: int = 0
    files_total: int = 0
    embedded: int = 0
    to_embed: int = 0


@dataclass(frozen=True)
class UpdateHooks:
    """What an update tells its caller as it goes.

    Attributes:
        notify: Receives one-line messages (waiting, repairs).
        on_progress: Receives progress as the update runs.
        on_commit: Called with the new generation after each commit that changed content,
            so that a live index can serve it at once.

    """

    notify: Callable[[str], None] = _ignore
    on_progress: Callable[[UpdateProgress], None] = _ignore
    on_commit: Callable[[int], None] = _ignore


@dataclass(frozen=True)
class BuildOptions:
    """How an update runs.

    Attributes:
        wait: Wait for another process's update to finish instead of raising :class:`IndexBusyError`.
        verify: Check the database and the base files for damage first (``qa index`` does); what
            was verified and has not changed since is not read again (:mod:`qa.store.integrity`).
        trust_stamps: With ``verify``, skip what the stamps say is unchanged since it was
            verified; ``False`` checks everything (``qa index --check``: damage that left a
            file's size and times as they were, a bad disk block).
        progress_bar: Show a terminal progress bar while embedding.
        backend: Where files are read and split and texts embedded (default: this process;
            :func:`qa.build.cluster.connect` gives a Ray cluster's).
        hooks: Messages, progress and commits, as they happen.

    """

    wait: bool = True
    verify: bool = False
    trust_stamps: bool = True
    progress_bar: bool = False
    backend: BuildBackend | None = None
    hooks: UpdateHooks = UpdateHooks()


def moved_from(folder: Path, stored: dict[str, Any], corpus: str) -> str | None:
    """Where an index's corpus was (its label), when an update now indexes another folder, else ``None``.

    ``stored`` are the facts the index in ``folder`` records; ``corpus`` the folder indexed
    now, relative to ``folder``. A moved or copied corpus is re-pointed by the update.
    """
    before = stored.get("corpus")
    if not isinstance(before, str) or before == corpus:
        return None
    now = (folder / corpus).resolve()
    recorded = stored.get("corpus_path")
    if isinstance(recorded, str) and recorded and Path(recorded) == now:
        # Only the index folder moved: the corpus is where it was.
        return None
    if (folder / before).resolve() == now:
        return None
    label = stored.get("corpus_label")
    return label if isinstance(label, str) and label else before
