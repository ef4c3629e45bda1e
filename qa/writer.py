"""The one writer of an index folder: finds what changed and applies it in transactions.

Changed files are found by size and modification time first, then by the hash of the
bytes read. Only their paragraphs are removed, added or re-embedded; vectors are
committed in batches, so a killed build resumes where it stopped. One writer runs at a
time across processes (a lock file); readers are never blocked.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import filelock
import numpy as np

from . import database as db
from .backend import BuildBackend, LocalBackend, Previous
from .config import Settings
from .documents import FORMATS, Passage
from .embedding import Embedder
from .errors import CorpusError, IndexAccessError, IndexBusyError, IndexCorruptError, IndexNotFoundError
from .lexical import Segment, write_segment
from .sources import Loaded, Signature, Source
from .splitting import (
    MAX_SENTENCES,
    SENTENCE_CHARS,
    Split,
    context_prefix,
    embedding_inputs,
    sentence_inputs,
)
from .vectors import write_base

__all__ = [
    "CHUNK_PASSAGES",
    "EMBED_BATCH",
    "MAX_SENTENCES",
    "SENTENCE_CHARS",
    "BuildReport",
    "CorpusChanges",
    "IndexWriter",
    "IndexedFile",
    "UpdateProgress",
    "context_prefix",
    "diff",
    "embedding_inputs",
    "indexed_files",
    "sentence_inputs",
]

#: Paragraphs read and split before their vectors are computed and committed together.
CHUNK_PASSAGES = 4096
#: Texts per embedding call; each call's vectors are committed at once.
EMBED_BATCH = 256
#: Version of the sentence evidence; an index without it (or another) is rebuilt, reusing its vectors.
SENTENCE_EVIDENCE = 1
#: The base vector file is rewritten once this many vectors changed since it was written
#: (or a tenth of it, whichever is more); below, changes are searched exactly from the database.
MERGE_MIN = 5000
LOCK_FILE = "writer.lock"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class CorpusChanges:
    """How the corpus folder differs from what the index holds."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        """True when anything changed."""
        return bool(self.added or self.removed or self.changed)

    def __len__(self) -> int:
        """Files to update."""
        return len(self.added) + len(self.removed) + len(self.changed)

    def describe(self) -> str:
        """One line, e.g. ``1 file added (a.txt), 1 edited (b.txt)``."""
        parts = []
        for verb, names in (("added", self.added), ("edited", self.changed), ("removed", self.removed)):
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                parts.append(f"{len(names)} {'file' if len(names) == 1 else 'files'} {verb} ({shown})")
        return "; ".join(parts) if parts else "no changes"


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
class IndexedFile:
    """A file as the index last saw it."""

    size: int
    mtime_ns: int
    sha256: str
    skipped: str | None


@dataclass
class _Pending:
    """Files read in the current chunk and the paragraphs to commit for them."""

    loaded: list[tuple[Loaded, Signature]] = field(default_factory=list)
    passages: list[tuple[Passage, tuple[tuple[int, int], ...], tuple[str, ...], str, bytes]] = field(
        default_factory=list
    )
    texts: dict[str, str] = field(default_factory=dict)
    windowed: int = 0
    sentences: dict[tuple[str, int], tuple[tuple[tuple[int, int], ...], tuple[str, ...]]] = field(default_factory=dict)

    def add(self, split: Split) -> None:
        """Take in one document's split rows."""
        self.passages.extend(split.passages)
        self.texts.update(split.texts)
        self.sentences.update(split.sentences)
        self.windowed += split.windowed


def indexed_files(connection: sqlite3.Connection) -> dict[str, IndexedFile]:
    """The ``files`` table as a dict."""
    rows = connection.execute("SELECT source, size, mtime_ns, sha256, skipped FROM files").fetchall()
    return {source: IndexedFile(size, mtime, sha, skipped) for source, size, mtime, sha, skipped in rows}


def diff(indexed: dict[str, IndexedFile], current: dict[str, Signature]) -> CorpusChanges:
    """Files added, removed, and whose size or modification time changed."""
    return CorpusChanges(
        added=tuple(sorted(set(current) - set(indexed))),
        removed=tuple(sorted(set(indexed) - set(current))),
        changed=tuple(
            sorted(
                name
                for name in set(current) & set(indexed)
                if (current[name].size, current[name].mtime_ns) != (indexed[name].size, indexed[name].mtime_ns)
            )
        ),
    )


class IndexWriter:
    """Applies the changes of a source to an index folder, one transaction per chunk."""

    def __init__(
        self,
        folder: Path,
        source: Source,
        *,
        settings: Settings,
        embedder: Embedder,
        corpus: str,
        label: str,
        wait: bool = True,
        notify: Callable[[str], None] = lambda _message: None,
        on_progress: Callable[[UpdateProgress], None] = lambda _progress: None,
        progress_bar: bool = False,
        verify: bool = False,
        on_commit: Callable[[int], None] = lambda _generation: None,
        backend: BuildBackend | None = None,
    ) -> None:
        """Prepare to update ``folder`` from ``source``.

        Args:
            folder: The index folder (created if missing).
            source: The documents to index.
            settings: Indexing settings (model, context, batch size, ...).
            embedder: The embedding model.
            corpus: The corpus folder relative to ``folder``, recorded for readers.
            label: How citations name the corpus folder.
            wait: Wait for another process's update to finish instead of failing.
            notify: Receives one-line messages (waiting, repairs).
            on_progress: Receives progress as the update runs.
            progress_bar: Show a terminal progress bar while embedding.
            verify: Check the whole database for damage first (``qa index`` does).
            on_commit: Called with the new generation after each commit that changed content,
                so that a live index can serve it at once.
            backend: Where files are read and split and texts embedded (default: this process;
                :class:`qa.distributed.RayBackend` spreads them over a Ray cluster).

        """
        self.folder = folder
        self.source = source
        self.settings = settings
        self.embedder = embedder
        self.corpus = corpus
        self.label = label
        self._wait = wait
        self._notify = notify
        self._on_progress = on_progress
        self._progress_bar = progress_bar
        self._verify = verify
        self._on_commit = on_commit
        self.backend: BuildBackend = backend or LocalBackend()
        self._repaired: list[str] = []
        self._dropped: set[str] = set()
        self._full_gc = False
        self._committed = False

    # -- the update -------------------------------------------------------------------------

    def update(self) -> BuildReport:
        """Bring the index in line with the source and return what was done.

        Raises:
            IndexBusyError: Another update runs and ``wait`` is false.
            CorpusError: The source holds no readable text.

        """
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.folder / LOCK_FILE))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if not self._wait:
                raise IndexBusyError(
                    f"another index update is running in {self.folder}; try again when it ends"
                ) from None
            self._notify(f"Another index update is running in {self.folder}; waiting for it to finish ...")
            lock.acquire()
        try:
            return self._update_locked()
        except sqlite3.Error as exc:
            raise db.failure(self.folder, exc) from exc
        except RuntimeError as exc:
            # FAISS reports write failures (disk full) as RuntimeError.
            raise IndexAccessError(
                f"writing the index in {self.folder} failed ({exc}); the last complete state is kept"
            ) from exc
        finally:
            lock.release()

    def _open(self) -> sqlite3.Connection:
        """Open (or create) the database, setting a damaged one aside to rebuild from scratch."""
        try:
            connection = db.connect(self.folder, create=True)
            if self._verify:
                check = connection.execute("PRAGMA quick_check").fetchone()
                if check is None or check[0] != "ok":
                    raise sqlite3.DatabaseError(f"quick_check: {check}")
            db.read_meta(connection)
            return connection
        except (IndexCorruptError, sqlite3.DatabaseError) as exc:
            # Locked, read-only or full is not damage: never set a healthy database aside.
            if isinstance(exc, sqlite3.DatabaseError) and not db.is_damage(exc):
                raise db.failure(self.folder, exc) from exc
            aside = self.folder / f"{db.DATABASE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
            for suffix in ("", "-wal", "-shm"):
                path = self.folder / f"{db.DATABASE}{suffix}"
                if path.exists():
                    os.replace(path, aside.with_name(aside.name + suffix))
            self._repaired.append(f"the damaged database was moved to {aside.name} and rebuilt")
            self._notify(f"The index database was damaged ({exc}); it was moved to {aside.name} and is rebuilt.")
            return db.connect(self.folder, create=True)

    def _wanted_meta(self) -> dict[str, object]:
        """The build facts this update records."""
        return {
            "format_version": db.FORMAT_VERSION,
            "model": self.embedder.name,
            "dimension": self.embedder.dimension,
            "normalized": True,
            "context": self.settings.context,
            "lexical_title": self.settings.lexical_title,
            "sentences": SENTENCE_EVIDENCE if self.settings.sentences else 0,
            "corpus": self.corpus,
            "corpus_label": self.label,
        }

    def _update_locked(self) -> BuildReport:
        """The update, with the writer lock held."""
        started = time.perf_counter()
        self._on_progress(UpdateProgress("scanning"))
        connection = self._open()
        try:
            wanted = self._wanted_meta()
            stored = {key: json.loads(value) for key, value in db.read_meta(connection).items()}
            facts = ("format_version", "model", "dimension", "normalized", "context", "lexical_title", "sentences")
            fresh = any(stored.get(key) != wanted[key] for key in facts)
            if fresh and stored:
                self._notify("The index was built with other settings or model; rebuilding it from scratch.")
            if self._verify and not fresh:
                self._verify_vectors(connection)
            indexed = {} if fresh else indexed_files(connection)
            current = self.source.scan()
            if not current:
                raise CorpusError(f"no {FORMATS} files to index in {self.corpus}")
            changes = diff(indexed, current)
            # Generations only grow, across rebuilds too; a rebuilt or new database gets a new epoch.
            generation = int(stored.get("generation", 0))
            if fresh:
                wanted["epoch"] = uuid.uuid4().hex
                # Everything is written again: vectors nothing refers to afterwards are swept.
                self._full_gc = bool(stored)
            counters = {"embedded": 0, "reused": 0, "windowed": 0, "applied": 0}
            todo = [*changes.added, *changes.changed]
            self._on_progress(UpdateProgress("embedding", 0, len(todo) + len(changes.removed)))
            bar = self._bar()
            first = True
            pending = _Pending()
            unreadable: list[tuple[str, str]] = []
            previous = {name: Previous(old.sha256, old.skipped) for name, old in indexed.items()}
            prepared = self.backend.prepare(self.source, todo, previous, embedder=self.embedder, settings=self.settings)
            for position, item in enumerate(prepared, start=1):
                name = item.name
                loaded: Loaded | None = item.loaded
                old = indexed.get(name)
                if loaded is not None and loaded.unreadable and old is not None and old.skipped is None:
                    # A file that cannot be read now keeps what was indexed from it.
                    unreadable.append((name, loaded.skipped or "unreadable"))
                    loaded = None
                if loaded is not None:
                    signature = Signature(-1, 0) if loaded.unreadable else current[name]
                    pending.loaded.append((loaded, signature))
                # The backend split the file only if its content changed (see qa.backend.needs_split).
                if loaded is not None and item.split is not None:
                    pending.add(item.split)
                if len(pending.passages) >= CHUNK_PASSAGES or position == len(todo):
                    generation = self._apply(
                        connection,
                        pending,
                        indexed,
                        changes.removed if first else (),
                        wanted,
                        fresh and first,
                        generation,
                        counters,
                        bar,
                        position,
                        len(todo),
                    )
                    first = False
                    pending = _Pending()
            if first and (changes.removed or fresh or not stored):
                generation = self._apply(
                    connection, pending, indexed, changes.removed, wanted, fresh, generation, counters, bar, 0, 0
                )
            if bar is not None:
                bar.close()
            self._on_progress(UpdateProgress("merging", len(todo), len(todo)))
            # Merging and cleaning follow a change (or a check); an idle update touches nothing.
            if self._committed or self._verify:
                self._merge(connection)
                self._clean(connection)
            report = self._report(connection, counters, started, len(changes), unreadable)
            if self._committed:
                self._write_manifest(connection)
            self._on_progress(UpdateProgress("done", len(todo), len(todo)))
            return report
        finally:
            connection.close()

    def _verify_vectors(self, connection: sqlite3.Connection) -> None:
        """Find damaged stored vectors; drop them and mark their files for re-reading, so they are re-embedded."""
        dimension = self.embedder.dimension
        bad: list[str] = []
        cursor = connection.execute("SELECT sha256, vector FROM embeddings")
        while rows := cursor.fetchmany(20_000):
            sized = [r for r in rows if len(r[1]) == dimension * 4]
            bad += [r[0] for r in rows if len(r[1]) != dimension * 4]
            if sized:
                ok = db.valid_rows(db.decode_vectors([r[1] for r in sized], dimension), normalized=True)
                bad += [r[0] for r, good in zip(sized, ok.tolist(), strict=True) if not good]
        # Windows or sentences whose vector row is missing altogether: their files are read again.
        orphans = [
            row[0]
            for table in ("windows", "sentences")
            for row in connection.execute(
                f"SELECT DISTINCT p.source FROM passages p JOIN {table} w ON w.passage_id = p.id"
                " LEFT JOIN embeddings e ON e.sha256 = w.sha256 WHERE e.sha256 IS NULL"
            )
        ]
        if orphans:
            with db.transaction(connection):
                connection.executemany(
                    "UPDATE files SET size = -1, sha256 = 'damaged' WHERE source = ?", [(s,) for s in set(orphans)]
                )
            count = len(set(orphans))
            self._repaired.append(f"{count} files with missing stored vectors re-embedded")
            self._notify(f"Stored vectors of {count} files were missing; their paragraphs are embedded again.")
        if not bad:
            return
        with db.transaction(connection):
            for part in db.chunks(bad):
                marks = db.placeholders(len(part))
                # A damaged vector may be a paragraph window's or a sentence's: either file is read again.
                for table in ("windows", "sentences"):
                    connection.execute(
                        "UPDATE files SET size = -1, sha256 = 'damaged' WHERE source IN (SELECT p.source FROM passages"
                        f" p JOIN {table} w ON w.passage_id = p.id WHERE w.sha256 IN ({marks}))",
                        tuple(part),
                    )
                connection.execute(f"DELETE FROM embeddings WHERE sha256 IN ({marks})", tuple(part))
        self._repaired.append(f"{len(bad)} damaged stored vectors re-embedded")
        self._notify(f"{len(bad)} stored vectors were damaged; their paragraphs are embedded again.")

    def _bar(self) -> Any:
        """A tqdm progress bar over embedded paragraphs, if asked for: shown once there is something to embed."""
        if not self._progress_bar:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=0, unit="text", desc="Embedding paragraphs and sentences", leave=False, delay=float("inf"))

    def _missing(self, connection: sqlite3.Connection, hashes: Sequence[str]) -> list[str]:
        """Hashes with no valid stored vector; damaged stored vectors count as missing."""
        dimension = self.embedder.dimension
        found: dict[str, bytes] = {}
        for part in db.chunks(list(hashes)):
            rows = connection.execute(
                f"SELECT sha256, vector FROM embeddings WHERE sha256 IN ({db.placeholders(len(part))})", tuple(part)
            ).fetchall()
            found.update(rows)
        good: set[str] = set()
        names = list(found)
        blobs = [found[n] for n in names]
        right_size = [len(b) == dimension * 4 for b in blobs]
        sized = [n for n, ok in zip(names, right_size, strict=True) if ok]
        if sized:
            matrix = db.decode_vectors([found[n] for n in sized], dimension)
            good = {n for n, ok in zip(sized, db.valid_rows(matrix, normalized=True).tolist(), strict=True) if ok}
        damaged = len(found) - len(good)
        if damaged:
            self._repaired.append(f"{damaged} damaged stored vectors re-embedded")
            self._notify(f"{damaged} stored vectors were damaged; embedding them again.")
        return [h for h in hashes if h not in good]

    def _embed(self, connection: sqlite3.Connection, pending: _Pending, counters: dict[str, int], bar: Any) -> None:
        """Embed the chunk's missing texts, longest batches together, committing each batch."""
        unique = list(dict.fromkeys(h for _, _, hashes, _, _ in pending.passages for h in hashes))
        unique += [h for h in dict.fromkeys(h for _, found in pending.sentences.values() for h in found) if h]
        unique = list(dict.fromkeys(unique))
        missing = self._missing(connection, unique)
        counters["reused"] += len(unique) - len(missing)
        # Sorting by length keeps padding low inside each batch.
        missing.sort(key=lambda h: len(pending.texts[h]))
        if bar is not None and missing:
            bar.total += len(missing)
            # The bar was created hidden (``delay``); it appears with the first paragraph to embed.
            bar.delay = 0
            bar.refresh()
        batches = [missing[start : start + EMBED_BATCH] for start in range(0, len(missing), EMBED_BATCH)]
        texts = [[pending.texts[h] for h in batch] for batch in batches]
        # Batches may come back in any order (from a cluster); each is committed as it arrives.
        for number, vectors in self.backend.embed(texts, embedder=self.embedder, settings=self.settings):
            batch = batches[number]
            if vectors.shape != (len(batch), self.embedder.dimension):
                raise IndexCorruptError(
                    f"the model returned vectors of shape {vectors.shape} for {len(batch)} texts of "
                    f"{self.embedder.dimension} dimensions"
                )
            bad = ~db.valid_rows(vectors, normalized=True)
            if bad.any():
                raise IndexCorruptError(f"the model returned {int(bad.sum())} vectors that are not finite unit vectors")
            with db.transaction(connection):
                connection.executemany(
                    "INSERT OR REPLACE INTO embeddings(sha256, vector) VALUES (?, ?)",
                    [(h, db.encode_vector(v)) for h, v in zip(batch, vectors, strict=True)],
                )
            counters["embedded"] += len(batch)
            if bar is not None:
                bar.update(len(batch))

    def _apply(
        self,
        connection: sqlite3.Connection,
        pending: _Pending,
        indexed: dict[str, IndexedFile],
        removed: Sequence[str],
        wanted: dict[str, object],
        wipe: bool,
        generation: int,
        counters: dict[str, int],
        bar: Any,
        done: int,
        total: int,
    ) -> int:
        """Embed a chunk's paragraphs, then commit its files in one transaction; return the generation."""
        self._embed(connection, pending, counters, bar)
        self._on_progress(UpdateProgress("committing", done, total, counters["embedded"], counters["embedded"]))
        counters["windowed"] += pending.windowed
        with db.transaction(connection):
            if wipe:
                for table in ("files", "passages", "windows", "sentences", "removed", "lexical_terms", "meta"):
                    connection.execute(f"DELETE FROM {table}")
            # Totals are kept up to date by difference: counting a million rows per commit would be slow.
            stored = {key: json.loads(value) for key, value in db.read_meta(connection).items()}
            totals = [int(stored.get(key, 0)) for key in ("passage_count", "vector_count", "token_total")]
            content_changed = wipe or bool(removed)
            by_source: dict[str, list[tuple[Passage, tuple[tuple[int, int], ...], tuple[str, ...], str, bytes]]] = {}
            for item in pending.passages:
                by_source.setdefault(item[0].source, []).append(item)
            next_generation = generation + 1
            for name in removed:
                totals = [a - b for a, b in zip(totals, self._drop(connection, name, next_generation), strict=True)]
                connection.execute("DELETE FROM files WHERE source = ?", (name,))
            for loaded, signature in pending.loaded:
                old = indexed.get(loaded.source)
                same = old is not None and old.sha256 == loaded.sha256 and old.skipped == loaded.skipped
                if not same:
                    content_changed = True
                    if old is not None:
                        dropped = self._drop(connection, loaded.source, next_generation)
                        totals = [a - b for a, b in zip(totals, dropped, strict=True)]
                    for passage, windows, hashes, terms, sketch in by_source.get(loaded.source, []):
                        pid = self._insert(connection, passage, windows, hashes, terms, sketch, next_generation)
                        sentences = pending.sentences.get((passage.source, passage.paragraph), ((), ()))
                        self._insert_sentences(connection, pid, sentences)
                        totals = [totals[0] + 1, totals[1] + len(windows), totals[2] + len(terms.split())]
                title = loaded.document.title if loaded.document is not None else ""
                connection.execute(
                    "INSERT OR REPLACE INTO files(source, size, mtime_ns, sha256, title, skipped)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (loaded.source, signature.size, signature.mtime_ns, loaded.sha256, title, loaded.skipped),
                )
            if content_changed or wipe:
                generation = next_generation
            counts = totals
            if counts[0] <= 0:
                # Rolled back: an update that would leave nothing to search keeps the last state.
                raise CorpusError(
                    "no paragraphs to index: no readable article text in the corpus"
                    + (f" ({len(pending.loaded)} files unreadable or empty)" if pending.loaded else "")
                )
            db.write_meta(
                connection,
                {
                    **wanted,
                    "generation": generation,
                    # When what can be found last changed: the status line's "last update".
                    **({"updated": time.time()} if content_changed or wipe else {}),
                    "passage_count": counts[0],
                    "vector_count": counts[1],
                    "token_total": counts[2],
                },
            )
        counters["applied"] += len(pending.loaded) + len(removed)
        self._committed = True
        if content_changed or wipe:
            self._on_commit(generation)
        return generation

    def _drop(self, connection: sqlite3.Connection, source: str, generation: int) -> tuple[int, int, int]:
        """Delete a file's passages, remembering their vector ids as removed at ``generation``.

        Returns:
            The passages, windows and keyword terms deleted.

        """
        rows = connection.execute("SELECT id, length FROM passages WHERE source = ?", (source,)).fetchall()
        ids = [row[0] for row in rows]
        windows = 0
        for part in db.chunks(ids):
            marks = db.placeholders(len(part))
            self._dropped.update(
                row[0]
                for row in connection.execute(f"SELECT sha256 FROM windows WHERE passage_id IN ({marks})", tuple(part))
            )
            connection.execute(
                "INSERT OR REPLACE INTO removed(vector_id, generation)"
                f" SELECT id, ? FROM windows WHERE passage_id IN ({marks})",
                (generation, *part),
            )
            windows += connection.execute(f"DELETE FROM windows WHERE passage_id IN ({marks})", tuple(part)).rowcount
            self._dropped.update(
                row[0]
                for row in connection.execute(
                    f"SELECT sha256 FROM sentences WHERE passage_id IN ({marks})", tuple(part)
                )
            )
            connection.execute(f"DELETE FROM sentences WHERE passage_id IN ({marks})", tuple(part))
            connection.execute(f"DELETE FROM passages WHERE id IN ({marks})", tuple(part))
        return len(ids), windows, sum(row[1] for row in rows)

    def _insert(
        self,
        connection: sqlite3.Connection,
        passage: Passage,
        windows: tuple[tuple[int, int], ...],
        hashes: tuple[str, ...],
        terms: str,
        sketch: bytes,
        generation: int,
    ) -> int:
        """Insert one passage, its windows and its keyword terms; return the passage's id."""
        cursor = connection.execute(
            "INSERT INTO passages(source, paragraph, start_line, end_line, start_char, end_char, text, sha256,"
            " page, end_page, page_paragraph, section, terms, length, signature, generation)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                passage.source,
                passage.paragraph,
                passage.start_line,
                passage.end_line,
                passage.start_char,
                passage.end_char,
                passage.text,
                passage.sha256,
                passage.page,
                passage.end_page,
                passage.page_paragraph,
                passage.section,
                terms,
                len(terms.split()),
                sketch,
                generation,
            ),
        )
        pid = int(cursor.lastrowid or 0)
        connection.executemany(
            "INSERT INTO windows(id, passage_id, start, end, sha256) VALUES (?, ?, ?, ?, ?)",
            [(db.vector_id(pid, n), pid, s, e, h) for n, ((s, e), h) in enumerate(zip(windows, hashes, strict=True))],
        )
        return pid

    @staticmethod
    def _insert_sentences(
        connection: sqlite3.Connection,
        passage_id: int,
        sentences: tuple[tuple[tuple[int, int], ...], tuple[str, ...]],
    ) -> None:
        """Record a passage's sentences with their vectors' hashes."""
        spans, hashes = sentences
        connection.executemany(
            "INSERT INTO sentences(passage_id, start, end, sha256) VALUES (?, ?, ?, ?)",
            [(passage_id, s, e, h) for (s, e), h in zip(spans, hashes, strict=True)],
        )

    # -- after the content commits -----------------------------------------------------------

    def _merge(self, connection: sqlite3.Connection) -> None:
        """Rewrite the base vector file when enough changed since it was written, or it is damaged."""
        meta = db.Meta.read(connection, self.folder)
        delta = connection.execute(
            "SELECT (SELECT count(*) FROM windows w JOIN passages p ON p.id = w.passage_id WHERE p.generation > ?)"
            " + (SELECT count(*) FROM removed WHERE generation > ?)",
            (meta.base_generation, meta.base_generation),
        ).fetchone()[0]
        total = connection.execute("SELECT count(*) FROM windows").fetchone()[0]
        damaged = bool(meta.base_file) and not self._base_ok(meta)
        if damaged:
            self._repaired.append(f"vector file {meta.base_file} and keyword segment {meta.lexical_file} rebuilt")
            self._notify("The vector file or keyword segment was damaged; rebuilding them from the database.")
        if not damaged and delta <= max(MERGE_MIN, meta.base_count // 10):
            return
        self._full_gc = True
        if total == 0:
            with db.transaction(connection):
                empty = {"base_file": "", "base_generation": meta.generation, "base_sha256": "", "base_count": 0}
                db.write_meta(connection, {**empty, "lexical_file": "", "lexical_sha256": ""})
                connection.execute("DELETE FROM lexical_terms")
            return
        token = uuid.uuid4().hex[:12]
        name, lexical_name = f"vectors-{token}.faiss", f"lexical-{token}"
        digest = write_base(
            self.folder / name, lambda: self._all_vectors(connection, meta.dimension), total, meta.dimension
        )
        # The keyword segment covers the same passages as the vector file: all of them, now.
        documents = connection.execute("SELECT id, terms FROM passages ORDER BY id")
        lexical_digest, vocabulary = write_segment(self.folder / lexical_name, documents)
        with db.transaction(connection):
            connection.execute("DELETE FROM lexical_terms")
            connection.executemany("INSERT INTO lexical_terms(term, col) VALUES (?, ?)", vocabulary.items())
            db.write_meta(
                connection,
                {
                    "base_file": name,
                    "base_generation": meta.generation,
                    "base_sha256": digest,
                    "base_count": total,
                    "lexical_file": lexical_name,
                    "lexical_sha256": lexical_digest,
                },
            )
            connection.execute("DELETE FROM removed WHERE generation <= ?", (meta.generation,))

    def _base_ok(self, meta: db.Meta) -> bool:
        """Whether the base vector file and keyword segment open and match their checksums."""
        from .vectors import BaseVectors

        try:
            BaseVectors.open(
                self.folder / meta.base_file, sha256=meta.base_sha256, count=meta.base_count, dimension=meta.dimension
            )
            Segment.open(self.folder / meta.lexical_file, meta.lexical_sha256)
        except IndexCorruptError:
            return False
        return True

    def _all_vectors(self, connection: sqlite3.Connection, dimension: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, vectors)`` batches of every stored window, checked as they are read."""
        cursor = connection.execute(
            "SELECT w.id, e.vector FROM windows w JOIN embeddings e ON e.sha256 = w.sha256 ORDER BY w.id"
        )
        while rows := cursor.fetchmany(20_000):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            try:
                vectors = db.decode_vectors([r[1] for r in rows], dimension)
            except ValueError as exc:
                raise IndexCorruptError(f"stored vectors in {self.folder} are damaged ({exc}); run `qa index`") from exc
            if not db.valid_rows(vectors, normalized=True).all():
                raise IndexCorruptError(f"stored vectors in {self.folder} are damaged; run `qa index` to repair them")
            yield ids, vectors

    def _clean(self, connection: sqlite3.Connection) -> None:
        """Remove temporary files, unreferenced vector files, old-format files and unused vectors."""
        meta = db.Meta.read(connection, self.folder)
        for path in self.folder.iterdir():
            name = path.name
            # Only names this package writes: an index folder may sit beside other files.
            stale = name.startswith(".tmp-") or (name.startswith("passages-") and name.endswith(".jsonl"))
            stale = stale or (name.startswith("vectors-") and name.endswith(".faiss") and name != meta.base_file)
            stale = stale or (path.is_dir() and name.startswith("lexical-") and name != meta.lexical_file)
            if not stale:
                continue
            if path.is_dir():
                import shutil

                # Renamed first, so that the folder disappears at once rather than file by file.
                doomed = path if name.startswith(".tmp-") else path.with_name(f".tmp-gone-{name}")
                os.replace(path, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        # Vectors no window uses: all of them after a merge (a full scan), else those just dropped.
        with db.transaction(connection):
            if self._full_gc:
                connection.execute(
                    "DELETE FROM embeddings WHERE sha256 NOT IN (SELECT sha256 FROM windows)"
                    " AND sha256 NOT IN (SELECT sha256 FROM sentences)"
                )
            else:
                for part in db.chunks(sorted(self._dropped)):
                    marks = db.placeholders(len(part))
                    connection.execute(
                        f"DELETE FROM embeddings WHERE sha256 IN ({marks})"
                        f" AND sha256 NOT IN (SELECT sha256 FROM windows WHERE sha256 IN ({marks}))"
                        f" AND sha256 NOT IN (SELECT sha256 FROM sentences WHERE sha256 IN ({marks}))",
                        (*part, *part, *part),
                    )
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _report(
        self,
        connection: sqlite3.Connection,
        counters: dict[str, int],
        started: float,
        updated: int,
        unreadable: list[tuple[str, str]],
    ) -> BuildReport:
        """Totals of the index after the update."""
        files, skipped_rows = 0, list(unreadable)
        for source, skipped in connection.execute("SELECT source, skipped FROM files ORDER BY source"):
            if skipped is None:
                files += 1
            else:
                skipped_rows.append((source, skipped))
        passages, vectors = connection.execute(
            "SELECT (SELECT count(*) FROM passages), (SELECT count(*) FROM windows)"
        ).fetchone()
        if passages == 0:
            detail = f" ({len(skipped_rows)} unreadable)" if skipped_rows else ""
            raise CorpusError(f"no paragraphs to index: no readable article text in the corpus{detail}")
        return BuildReport(
            files=files,
            passages=passages,
            vectors=vectors,
            embedded=counters["embedded"],
            reused=max(0, vectors - counters["embedded"]),
            windowed=counters["windowed"],
            skipped=tuple(skipped_rows),
            seconds=time.perf_counter() - started,
            updated_files=updated,
            repaired=tuple(self._repaired),
        )

    def _write_manifest(self, connection: sqlite3.Connection) -> None:
        """A human-readable summary beside the database (the database is the truth)."""
        try:
            meta = db.Meta.read(connection, self.folder)
        except IndexNotFoundError:
            return
        counts = connection.execute("SELECT (SELECT count(*) FROM passages), (SELECT count(*) FROM files)").fetchone()
        summary = {**asdict(meta), "passage_count": counts[0], "file_count": counts[1], "database": db.DATABASE}
        tmp = self.folder / f".tmp-{uuid.uuid4().hex[:8]}-{MANIFEST}"
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / MANIFEST)
