"""A read-only snapshot of an index: one committed generation, searched while writers go on.

A snapshot holds a read transaction on the index database for its whole life, so every
lookup it makes (passages, vectors, keyword scores) sees the same committed state. Its
vectors are the base file (read into memory and checked when opened) minus the ids removed
since, plus the few vectors added since, read from the database and searched exactly.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError, QAError, shown
from ..text.passages import Passage
from . import database as db
from . import holds
from .basefiles import Base
from .bm25 import LexicalIndex, Stats
from .catalog import DocumentInfo, documents, passages_of, sizes_of, sources_of
from .changes import IndexedFile, indexed_files
from .codec import WINDOW_BITS, checked_vectors, passage_of
from .filters import FileList, FilterCache, SourceFilter
from .integrity import Stamps
from .manifest import Manifest, refuse_old_format
from .segments import Segment, array_files
from .vectors import BaseVectors, exact_search

_PASSAGE_COLUMNS = (
    "p.id, p.source, p.paragraph, p.start_line, p.end_line, p.start_char, p.end_char, p.text, p.sha256,"
    " p.page, p.end_page, p.page_paragraph, p.section"
)
#: Attempts at opening a snapshot while a writer replaces the base vector file.
_OPEN_ATTEMPTS = 5
#: Passages that are in a file chosen by a filter or under a chosen folder (the bounds of a
#: folder's range: ``'0'`` is the character after ``'/'``, so the range holds ``name/...``).
_FILTER_SQL = (
    "SELECT p.id, w.id FROM passages p LEFT JOIN windows w ON w.passage_id = p.id"
    " WHERE p.source = ? OR (p.source >= ? AND p.source < ?)"
)


@dataclass(frozen=True)
class Candidate:
    """A ranked passage as duplicate folding needs it."""

    passage: Passage
    vector: np.ndarray
    signature: bytes


def _passage(row: Sequence[object]) -> Passage:
    """A :class:`Passage` from a ``passages`` row (without its id)."""
    return Passage(*row[1:])  # type: ignore[arg-type]


class Snapshot:
    """One committed state of an index folder, safe to search from several threads."""

    def __init__(
        self,
        folder: Path,
        connection: sqlite3.Connection,
        meta: db.Meta,
        manifest: Manifest,
        indexed: dict[str, IndexedFile],
        frozen: Base,
        delta_ids: np.ndarray,
        delta: np.ndarray,
        exclude: np.ndarray,
        delta_terms: Segment,
    ) -> None:
        """Assemble a snapshot; use :meth:`open`."""
        self.folder = folder
        self.meta = meta
        self.manifest = manifest
        #: Every file as this state saw it (size, time, hash, skip reason), for change detection.
        self.indexed = indexed
        self.frozen = frozen
        self.base = frozen.vectors
        self._connection = connection
        self._lock = threading.Lock()
        self._delta_ids = delta_ids
        self._delta = delta
        self._exclude = exclude
        self.files = FileList(manifest.files, label=manifest.corpus_label, skipped=manifest.skipped)
        self._filters = FilterCache()
        average = meta.token_total / meta.passage_count if meta.passage_count else 0.0
        self.lexical = LexicalIndex(
            connection,
            self._lock,
            frozen.segment,
            delta_terms,
            np.unique(passage_of(exclude)),
            Stats(meta.passage_count, average),
        )

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection whose read transaction this snapshot is (for naming errors met on it)."""
        return self._connection

    @property
    def generation(self) -> int:
        """The commit this snapshot shows."""
        return self.meta.generation

    def __len__(self) -> int:
        """Passages in this snapshot."""
        return self.manifest.passage_count

    @property
    def dimension(self) -> int:
        """Length of the stored vectors (checked against the base file when it was opened)."""
        return self.meta.dimension

    @classmethod
    def open(cls, folder: Path, *, reuse: Base | None = None) -> Snapshot:
        """Open the newest committed state of ``folder``.

        Args:
            folder: The index folder.
            reuse: Already opened base files; used if the state still refers to them.

        Raises:
            IndexNotFoundError: ``folder`` holds no index.
            IndexCorruptError: A part is damaged; the message names it.
            IndexMismatchError: The index was written by another format version.

        """
        refuse_old_format(folder)
        last: QAError | None = None
        for _ in range(_OPEN_ATTEMPTS):
            connection = db.connect(folder)
            try:
                # The base files named by the state read stay on disk until they are read.
                with holds.opening(folder):
                    return cls._open_in(folder, connection, reuse)
            except _BaseMoved as exc:
                # A writer replaced the base file between our read and our open: read again.
                connection.close()
                last = exc.error
            except BaseException:
                connection.close()
                raise
        assert last is not None
        raise last

    @classmethod
    def _open_in(cls, folder: Path, connection: sqlite3.Connection, reuse: Base | None) -> Snapshot:
        """Read one consistent state inside a read transaction that stays open."""
        try:
            connection.execute("BEGIN")
            meta = db.Meta.read(connection, folder)
            indexed = indexed_files(connection)
            files = {source: f.sha256 for source, f in indexed.items() if f.skipped is None}
            skipped = {source: f.skipped for source, f in indexed.items() if f.skipped is not None}
            delta_rows = connection.execute(
                "SELECT w.id, e.vector FROM passages p JOIN windows w ON w.passage_id = p.id"
                " LEFT JOIN embeddings e ON e.sha256 = w.sha256 WHERE p.generation > ? ORDER BY w.id",
                (meta.base_generation,),
            ).fetchall()
            removed = connection.execute(
                "SELECT vector_id FROM removed WHERE generation > ?", (meta.base_generation,)
            ).fetchall()
            exclude = np.array([r[0] for r in removed], dtype=np.int64)
            delta_terms = Segment.build(
                connection.execute(
                    "SELECT id, terms FROM passages WHERE generation > ? ORDER BY id", (meta.base_generation,)
                )
            )
        except sqlite3.DatabaseError as exc:
            raise db.failure(folder, exc, connection) from exc
        _check_meta(folder, meta)
        delta_ids, delta = _check_delta(folder, delta_rows, meta)
        base: BaseVectors | None = None
        segment: Segment | None = None
        if meta.base_file:
            path = folder / meta.base_file
            lexical_path = folder / meta.lexical_file
            try:
                old = reuse.vectors if reuse is not None else None
                if old is not None and old.path == path and old.sha256 == meta.base_sha256:
                    base = old
                else:
                    base = open_vectors(folder, meta)
                if reuse is not None and reuse.segment is not None and reuse.segment.path == lexical_path:
                    segment = reuse.segment
                else:
                    segment = open_segment(folder, meta)
            except IndexCorruptError as exc:
                # A writer may have replaced the base files since we read the state: read it again.
                if not path.exists() or not lexical_path.exists() or db.state_of(folder)[2] != meta.base_file:
                    raise _BaseMoved(exc) from exc
                raise
        manifest = Manifest(
            format_version=meta.format_version,
            model=meta.model,
            dimension=meta.dimension,
            normalized=meta.normalized,
            metric="inner_product",
            context=meta.context,
            lexical_title=meta.lexical_title,
            passage_count=meta.passage_count,
            vector_count=meta.vector_count,
            corpus=meta.corpus,
            corpus_label=meta.corpus_label,
            generation=meta.generation,
            files=files,
            skipped=skipped,
            sentences=meta.sentences != 0,
            int8=meta.vectors == "int8",
        )
        return cls(
            folder, connection, meta, manifest, indexed, Base(base, segment), delta_ids, delta, exclude, delta_terms
        )

    def close(self) -> None:
        """End the read transaction and close the database connection."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._connection.close()

    def __del__(self) -> None:
        """Close the connection when the last user lets go of the snapshot."""
        with contextlib.suppress(Exception):
            self._connection.close()

    # -- vectors ------------------------------------------------------------------------------

    def check_files(self) -> str | None:
        """Whether the base files changed on disk since they were read (reported once; answers are unaffected)."""
        return self.frozen.check()

    def dense_top(self, query: np.ndarray, windows: int, *, within: SourceFilter | None = None) -> dict[int, float]:
        """Best cosine per passage among the ``windows`` best-matching vectors (of ``within``'s passages)."""
        if within is None:
            found_ids, found_scores = exact_search(self._delta, self._delta_ids, query, windows)
        else:
            rows = within.delta_rows
            found_ids, found_scores = exact_search(self._delta[rows], self._delta_ids[rows], query, windows)
        if self.base is not None and (within is None or within.base is not None):
            allowed = within.base if within is not None else None
            base_ids, base_scores = self.base.search(query, windows, self._exclude, allowed=allowed)
            found_ids = np.concatenate([found_ids, base_ids])
            found_scores = np.concatenate([found_scores, base_scores])
        order = np.argsort(-found_scores, kind="stable")[:windows]
        best: dict[int, float] = {}
        # A long paragraph has several windows: it scores as its best window.
        for pid, score in zip(passage_of(found_ids[order]).tolist(), found_scores[order].tolist(), strict=True):
            if score > best.get(pid, -2.0):
                best[pid] = float(score)
        return best

    def vectors_by_id(self, vector_ids: np.ndarray) -> np.ndarray:
        """The vectors with these ids, from memory: the delta, else the base file (checked when opened).

        Raises:
            IndexCorruptError: An id is in neither (the database and vector files disagree).

        """
        ids = np.asarray(vector_ids, dtype=np.int64)
        out = np.empty((len(ids), self.meta.dimension), dtype=np.float32)
        rows = np.minimum(np.searchsorted(self._delta_ids, ids), max(len(self._delta_ids) - 1, 0))
        in_delta = (np.asarray(self._delta_ids[rows]) == ids) if len(self._delta_ids) else np.zeros(len(ids), bool)
        out[in_delta] = self._delta[rows[in_delta]]
        rest = ids[~in_delta]
        if len(rest):
            if self.base is None:
                raise _damaged_vectors(self.folder, f"no vector {int(rest[0])}")
            out[~in_delta] = self.base.reconstruct(rest)
        return out

    def vectors_of(self, passage_ids: Sequence[int], *, first_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(passage_id per row, vectors)`` of the windows of ``passage_ids``."""
        ids = list(dict.fromkeys(int(p) for p in passage_ids))
        if first_only:
            vector_ids = np.asarray(ids, dtype=np.int64) << WINDOW_BITS
        else:
            found: list[int] = []
            with self._lock:
                for part in db.chunks(ids):
                    found += [
                        row[0]
                        for row in self._connection.execute(
                            f"SELECT id FROM windows WHERE passage_id IN ({db.placeholders(len(part))})", tuple(part)
                        )
                    ]
            vector_ids = np.asarray(found, dtype=np.int64)
        return passage_of(vector_ids), self.vectors_by_id(vector_ids)

    def dense_for(self, query: np.ndarray, passage_ids: Sequence[int]) -> dict[int, float]:
        """Exact best-window cosine of the question with each of ``passage_ids``."""
        owners, matrix = self.vectors_of(passage_ids)
        scores = matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
        best: dict[int, float] = {}
        for pid, score in zip(owners.tolist(), scores.tolist(), strict=True):
            best[pid] = max(best.get(pid, -2.0), float(score))
        return best

    def sentence_for(self, query: np.ndarray, passage_ids: Sequence[int]) -> dict[int, float]:
        """Best sentence cosine of the question with each of ``passage_ids`` that has sentences stored.

        Passages of one sentence have none stored (their paragraph vector is that sentence's);
        a damaged stored vector is left out rather than trusted.
        """
        ids = list(dict.fromkeys(int(p) for p in passage_ids))
        rows: list[tuple[int, bytes]] = []
        with self._lock:
            for part in db.chunks(ids):
                rows += self._connection.execute(
                    "SELECT s.passage_id, e.vector FROM sentences s JOIN embeddings e ON e.sha256 = s.sha256"
                    f" WHERE s.passage_id IN ({db.placeholders(len(part))})",
                    tuple(part),
                ).fetchall()
        if not rows:
            return {}
        matrix, good = checked_vectors([row[1] for row in rows], self.meta.dimension, normalized=self.meta.normalized)
        scores = matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
        best: dict[int, float] = {}
        for (pid, _), score, ok in zip(rows, scores.tolist(), good.tolist(), strict=True):
            if ok:
                best[pid] = max(best.get(pid, -2.0), float(score))
        return best

    def sources_of(self, passage_ids: Sequence[int]) -> dict[int, str]:
        """The file of each of ``passage_ids`` that this state holds."""
        with self._lock:
            return sources_of(self._connection, passage_ids)

    def sizes_of(self, sources: Sequence[str]) -> dict[str, int]:
        """How many passages each of ``sources`` has in this state."""
        with self._lock:
            return sizes_of(self._connection, sources)

    # -- source filters -----------------------------------------------------------------------

    def sources(self) -> list[str]:
        """Every indexed file, as a path relative to the corpus folder, sorted."""
        return self.files.sources()

    def folders(self) -> list[str]:
        """Every folder that holds indexed files (at any depth), as ``sub/``, sorted."""
        return self.files.folders()

    def restrict(self, sources: Iterable[str]) -> SourceFilter:
        """The passages and vectors of the chosen files and folders.

        Args:
            sources: Files (``a.txt``, ``sub/b.md``) and folders (``sub`` or ``sub/``) relative
                to the corpus folder; a leading ``./`` and a trailing ``/`` are optional.

        Raises:
            QueryError: No entries, an entry that is not text, or one that matches no indexed file.

        """
        names = self.files.names(sources)
        cached = self._filters.get(names)
        if cached is not None:
            return cached
        # Resolved outside the cache's lock: two threads may both resolve a new filter, harmlessly.
        resolved = self._resolve(names)
        self._filters.put(resolved)
        return resolved

    def _resolve(self, names: tuple[str, ...]) -> SourceFilter:
        """Read the passage and vector ids of ``names`` (checked) from this snapshot's state."""
        passages: list[int] = []
        windows: list[int] = []
        with self._lock:
            for name in names:
                for passage_id, window_id in self._connection.execute(_FILTER_SQL, (name, f"{name}/", f"{name}0")):
                    passages.append(passage_id)
                    if window_id is not None:
                        windows.append(window_id)
        passage_ids = np.unique(np.asarray(passages, dtype=np.int64))
        window_ids = np.unique(np.asarray(windows, dtype=np.int64))
        # The live windows table names only vectors still searchable: removed ones never come back.
        if len(self._delta_ids):
            rows = np.minimum(np.searchsorted(self._delta_ids, window_ids), len(self._delta_ids) - 1)
            in_delta = np.asarray(self._delta_ids[rows] == window_ids)
        else:
            rows, in_delta = np.zeros(len(window_ids), dtype=np.int64), np.zeros(len(window_ids), dtype=bool)
        base = self.base.allow(window_ids[~in_delta]) if self.base is not None else None
        return SourceFilter(names, passage_ids, rows[in_delta], base)

    # -- passages -----------------------------------------------------------------------------

    def candidates(self, passage_ids: Sequence[int]) -> dict[int, Candidate]:
        """Passages with their first window's vector and duplicate signature."""
        ids = list(dict.fromkeys(int(p) for p in passage_ids))
        rows: list[tuple[object, ...]] = []
        with self._lock:
            for part in db.chunks(ids):
                rows += self._connection.execute(
                    f"SELECT {_PASSAGE_COLUMNS}, p.signature FROM passages p"
                    f" WHERE p.id IN ({db.placeholders(len(part))})",
                    tuple(part),
                ).fetchall()
        _, vectors = self.vectors_of([int(r[0]) for r in rows], first_only=True)  # type: ignore[call-overload]
        return {
            int(row[0]): Candidate(_passage(row[:-1]), vectors[n], bytes(row[-1]))  # type: ignore[call-overload]
            for n, row in enumerate(rows)
        }

    def documents(self) -> list[DocumentInfo]:
        """Every file this state records, indexed or skipped, sorted by path."""
        with self._lock:
            return documents(self._connection)

    def passages_of(self, source: str) -> list[Passage]:
        """The paragraphs of one file in this state, in order."""
        with self._lock:
            return passages_of(self._connection, source)

    def all_passages(self) -> list[Passage]:
        """Every passage, in corpus order (file, then paragraph)."""
        with self._lock:
            rows = self._connection.execute(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages p ORDER BY p.source, p.paragraph"
            ).fetchall()
        return [_passage(row) for row in rows]


class _BaseMoved(Exception):
    """The base file named by the state read is gone: a writer replaced it meanwhile."""

    def __init__(self, error: QAError) -> None:
        super().__init__(str(error))
        self.error = error


def _damaged_vectors(folder: Path, detail: str) -> IndexCorruptError:
    """The error for damaged vectors in the database."""
    return IndexCorruptError(
        f"stored vectors in {db.database_path(folder)} are damaged ({detail}); run `qa index --check` to repair them",
        part="stored vectors",
    )


def _check_meta(folder: Path, meta: db.Meta) -> None:
    """Refuse metadata whose sizes are not whole numbers in range (hand-edited or damaged)."""
    sizes = {"dimension": (meta.dimension, 1), "base_count": (meta.base_count, 0), "generation": (meta.generation, 0)}
    for name, (value, low) in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise IndexCorruptError(
                f"the index metadata in {db.database_path(folder)} is malformed ({name} is {shown(value)}); "
                "run `qa index` to rebuild it"
            )


def _check_delta(folder: Path, rows: list[tuple[int, bytes | None]], meta: db.Meta) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check the vectors added since the base file."""
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if any(r[1] is None for r in rows):
        raise _damaged_vectors(folder, "a vector is missing")
    matrix, good = checked_vectors([r[1] for r in rows], meta.dimension, normalized=meta.normalized)
    if not good.all():
        raise _damaged_vectors(folder, f"a vector is not {meta.dimension} finite values of unit length")
    return ids, np.ascontiguousarray(matrix)


def open_vectors(folder: Path, meta: db.Meta) -> BaseVectors:
    """The state's base vector file, checked against its checksum unless the writer's stamp vouches for it.

    Raises:
        IndexCorruptError: The file is missing, damaged or disagrees with the database.

    """
    path = folder / meta.base_file
    trusted = Stamps(folder).trusted(meta.base_file, [path], meta.base_sha256)
    return BaseVectors.open(
        path, sha256=meta.base_sha256, count=meta.base_count, dimension=meta.dimension, verify=not trusted
    )


def open_segment(folder: Path, meta: db.Meta) -> Segment:
    """The state's keyword segment, checked against its checksum unless the writer's stamp vouches for it.

    Raises:
        IndexCorruptError: A file is missing, unreadable or damaged.

    """
    path = folder / meta.lexical_file
    trusted = Stamps(folder).trusted(meta.lexical_file, array_files(path), meta.lexical_sha256)
    return Segment.open(path, meta.lexical_sha256, verify=not trusted)
