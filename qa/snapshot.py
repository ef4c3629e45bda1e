"""A read-only snapshot of an index: one committed generation, searched while writers go on.

A snapshot holds a read transaction on the index database for its whole life, so every
lookup it makes (passages, vectors, keyword scores) sees the same committed state. Its
vectors are the memory-mapped base file minus the ids removed since, plus the few
vectors added since, read from the database and searched exactly.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import database as db
from .documents import Passage
from .errors import IndexCorruptError, IndexNotFoundError, QAError
from .lexical import LexicalIndex, Segment, Stats
from .vectors import BaseVectors, exact_search

_PASSAGE_COLUMNS = "p.id, p.source, p.paragraph, p.start_line, p.end_line, p.start_char, p.end_char, p.text, p.sha256"
#: Attempts at opening a snapshot while a writer replaces the base vector file.
_OPEN_ATTEMPTS = 5


@dataclass(frozen=True)
class Manifest:
    """What an index holds and how it was built (read from the database).

    Attributes:
        format_version: Layout version of the index folder.
        model: Embedding model name.
        dimension: Vector length.
        normalized: Whether vectors are unit length.
        metric: Similarity used (``inner_product``).
        context: Whether paragraphs were embedded with their article's title and lead.
        lexical_title: Whether the keyword index holds each paragraph's article title.
        passage_count: Paragraphs indexed.
        vector_count: Vectors (one per paragraph window).
        corpus: The corpus folder relative to the index folder.
        corpus_label: How citations name the corpus folder.
        generation: Commit counter of searchable content.
        files: SHA-256 of each indexed file's bytes.
        skipped: Files that could not be read, with the reason.

    """

    format_version: int
    model: str
    dimension: int
    normalized: bool
    metric: str
    context: bool
    lexical_title: bool
    passage_count: int
    vector_count: int
    corpus: str
    corpus_label: str
    generation: int
    files: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A ranked passage as duplicate folding needs it."""

    passage: Passage
    vector: np.ndarray
    signature: bytes


@dataclass(frozen=True)
class Base:
    """The frozen, memory-mapped part of a state: vector file and keyword segment (both or neither)."""

    vectors: BaseVectors | None = None
    segment: Segment | None = None


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
        signatures: dict[str, tuple[int, int]],
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
        self.signatures = signatures
        self.frozen = frozen
        self.base = frozen.vectors
        self._connection = connection
        self._lock = threading.Lock()
        self._delta_ids = delta_ids
        self._delta = delta
        self._exclude = exclude
        average = meta.token_total / meta.passage_count if meta.passage_count else 0.0
        self.lexical = LexicalIndex(
            connection,
            self._lock,
            frozen.segment,
            delta_terms,
            np.unique(db.passage_of(exclude)),
            Stats(meta.passage_count, average),
        )

    @property
    def generation(self) -> int:
        """The commit this snapshot shows."""
        return self.meta.generation

    def __len__(self) -> int:
        """Passages in this snapshot."""
        return self.manifest.passage_count

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
        _refuse_old_format(folder)
        last: QAError | None = None
        for _ in range(_OPEN_ATTEMPTS):
            connection = db.connect(folder)
            try:
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
            raw = db.read_meta(connection)
            counts = {k: int(raw.get(k, "0")) for k in ("passage_count", "vector_count")}
            files: dict[str, str] = {}
            skipped: dict[str, str] = {}
            signatures: dict[str, tuple[int, int]] = {}
            for source, size, mtime, sha, reason in connection.execute(
                "SELECT source, size, mtime_ns, sha256, skipped FROM files"
            ):
                signatures[source] = (size, mtime)
                if reason is None:
                    files[source] = sha
                else:
                    skipped[source] = reason
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
            raise db.failure(folder, exc) from exc
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
                    base = BaseVectors.open(
                        path, sha256=meta.base_sha256, count=meta.base_count, dimension=meta.dimension
                    )
                if reuse is not None and reuse.segment is not None and reuse.segment.path == lexical_path:
                    segment = reuse.segment
                else:
                    segment = Segment.open(lexical_path, meta.lexical_sha256)
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
            passage_count=counts["passage_count"],
            vector_count=counts["vector_count"],
            corpus=meta.corpus,
            corpus_label=meta.corpus_label,
            generation=meta.generation,
            files=files,
            skipped=skipped,
        )
        return cls(
            folder, connection, meta, manifest, signatures, Base(base, segment), delta_ids, delta, exclude, delta_terms
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

    def dense_top(self, query: np.ndarray, windows: int) -> dict[int, float]:
        """Best cosine per passage among the ``windows`` best-matching vectors."""
        found_ids, found_scores = exact_search(self._delta, self._delta_ids, query, windows)
        if self.base is not None:
            base_ids, base_scores = self.base.search(query, windows, self._exclude)
            found_ids = np.concatenate([found_ids, base_ids])
            found_scores = np.concatenate([found_scores, base_scores])
        order = np.argsort(-found_scores, kind="stable")[:windows]
        best: dict[int, float] = {}
        # A long paragraph has several windows: it scores as its best window.
        for pid, score in zip(db.passage_of(found_ids[order]).tolist(), found_scores[order].tolist(), strict=True):
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
            vector_ids = np.asarray(ids, dtype=np.int64) << db.WINDOW_BITS
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
        return db.passage_of(vector_ids), self.vectors_by_id(vector_ids)

    def dense_for(self, query: np.ndarray, passage_ids: Sequence[int]) -> dict[int, float]:
        """Exact best-window cosine of the question with each of ``passage_ids``."""
        owners, matrix = self.vectors_of(passage_ids)
        scores = matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
        best: dict[int, float] = {}
        for pid, score in zip(owners.tolist(), scores.tolist(), strict=True):
            best[pid] = max(best.get(pid, -2.0), float(score))
        return best

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
        f"stored vectors in {db.database_path(folder)} are damaged ({detail}); run `qa index` to repair them"
    )


def _check_delta(folder: Path, rows: list[tuple[int, bytes | None]], meta: db.Meta) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check the vectors added since the base file."""
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    try:
        if any(r[1] is None for r in rows):
            raise ValueError("a vector is missing")
        matrix = db.decode_vectors([r[1] for r in rows], meta.dimension)  # type: ignore[misc]
    except ValueError as exc:
        raise _damaged_vectors(folder, str(exc)) from exc
    if not db.valid_rows(matrix, normalized=meta.normalized).all():
        raise _damaged_vectors(folder, "a vector is not a finite unit vector")
    return ids, np.ascontiguousarray(matrix)


def _refuse_old_format(folder: Path) -> None:
    """Raise a clear error for a folder written by the format-1 layout (files + manifest)."""
    import json

    from .errors import IndexMismatchError

    if db.database_path(folder).is_file():
        return
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise IndexNotFoundError(f"no index in {folder}: build one with `qa index`")
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("format_version")
    except (OSError, ValueError, AttributeError):
        version = None
    raise IndexMismatchError(
        f"the index in {folder} is in an older format ({version}) that this version does not read; "
        "run `qa index` to rebuild it"
    )
