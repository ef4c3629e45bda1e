"""Questions limited to some files and folders: naming them, checking the names, remembering the result.

The passages and vectors a filter allows are read by the snapshot (:meth:`qa.store.snapshot.Snapshot.restrict`);
this module holds what needs no database: the indexed file names, how a given name is
matched against them, and a small cache of resolved filters.
"""

from __future__ import annotations

import bisect
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import QueryError, shown
from ..text.checks import check_text
from .vectors import Allowed

#: Source filters a snapshot keeps resolved (the most recently used).
FILTER_CACHE = 8


@dataclass(frozen=True, eq=False)
class SourceFilter:
    """The part of a snapshot a question limited to some files and folders may match.

    Attributes:
        names: The chosen files and folders, normalised (``sub``, ``sub/b.md``), sorted.
        passage_ids: Ids of the passages in them, ascending.
        delta_rows: Rows of the snapshot's recent (delta) vectors that belong to those passages.
        base: Their vectors in the base file, prepared for a filtered search (``None``: no base file).

    """

    names: tuple[str, ...]
    passage_ids: np.ndarray
    delta_rows: np.ndarray
    base: Allowed | None

    def __len__(self) -> int:
        """Passages the filter allows."""
        return len(self.passage_ids)


def normalise(name: str) -> str:
    """A file or folder path as the index writes it: no ``./``, no trailing ``/`` (``""``: none)."""
    name = name.strip()
    if not name:
        return ""
    name = posixpath.normpath(name).rstrip("/")
    return "" if name == "." else name


class FileList:
    """The files of one committed state, sorted, and the folders that hold them."""

    def __init__(self, files: Iterable[str], *, label: str, skipped: Mapping[str, str]) -> None:
        """Hold ``files`` (relative to the corpus folder); ``label`` is how citations name the folder."""
        self._files = tuple(sorted(files))
        self._label = normalise(label)
        self._skipped = skipped

    def sources(self) -> list[str]:
        """Every indexed file, as a path relative to the corpus folder, sorted."""
        return list(self._files)

    def folders(self) -> list[str]:
        """Every folder that holds indexed files (at any depth), as ``sub/``, sorted."""
        found: set[str] = set()
        for name in self._files:
            parts = name.split("/")[:-1]
            found.update("/".join(parts[: depth + 1]) + "/" for depth in range(len(parts)))
        return sorted(found)

    def names(self, sources: object) -> tuple[str, ...]:
        """The chosen files and folders, normalised, checked and sorted.

        Raises:
            QueryError: No entries, an entry that is not text, or one that matches no indexed file.

        """
        if isinstance(sources, str | bytes) or not isinstance(sources, Iterable):
            raise QueryError("sources must be a list of files or folders, e.g. ['a.txt', 'sub/']")
        entries = list(sources)
        if not entries:
            raise QueryError("choose at least one file or folder to search, or none to search everything")
        return tuple(sorted({self._match(entry) for entry in entries}))

    def _match(self, entry: object) -> str:
        """``entry`` normalised, checked to name an indexed file or a folder holding one."""
        given = check_text(entry, "a file or folder").strip()
        name = normalise(given)
        if not name:
            raise QueryError(f"{shown(given)} names no file or folder: choose one inside the corpus folder")
        if self.holds(name):
            return name
        # A path copied from a citation starts with the corpus label: try it without.
        label = self._label
        if label and name.startswith(f"{label}/") and self.holds(name[len(label) + 1 :]):
            return name[len(label) + 1 :]
        if name in self._skipped:
            raise QueryError(f"{shown(given)} could not be read when it was indexed ({self._skipped[name]})")
        raise QueryError(
            f"no indexed file or folder matches {shown(given)}; name one relative to the corpus folder, "
            "e.g. 'a.txt' or 'sub/'"
        )

    def holds(self, name: str) -> bool:
        """Whether ``name`` is an indexed file or a folder holding one."""
        at = bisect.bisect_left(self._files, name)
        if at < len(self._files) and self._files[at] == name:
            return True
        at = bisect.bisect_left(self._files, f"{name}/", at)
        return at < len(self._files) and self._files[at].startswith(f"{name}/")


class FilterCache:
    """Resolved filters of one snapshot, the most recently used first out; safe from several threads."""

    def __init__(self, size: int = FILTER_CACHE) -> None:
        """Keep at most ``size`` filters."""
        self._size = size
        self._filters: OrderedDict[tuple[str, ...], SourceFilter] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, names: tuple[str, ...]) -> SourceFilter | None:
        """The filter of ``names`` if it is kept."""
        with self._lock:
            found = self._filters.get(names)
            if found is not None:
                self._filters.move_to_end(names)
            return found

    def put(self, filter_: SourceFilter) -> None:
        """Keep ``filter_``, dropping the least recently used beyond the size."""
        with self._lock:
            self._filters[filter_.names] = filter_
            while len(self._filters) > self._size:
                self._filters.popitem(last=False)
