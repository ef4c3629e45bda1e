"""The one writer of an index folder: finds what changed and applies it in transactions.

Changed files are found by size and modification time first, then by the hash of the
bytes read (:mod:`qa.store.changes`). Only their paragraphs are removed, added or
re-embedded; vectors are committed in batches, so a killed build resumes where it
stopped. One writer runs at a time across processes (a lock file); readers are never blocked
(they wait at most a moment while the writer removes superseded base files: :mod:`qa.store.holds`).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import filelock

from ..build.backend import BuildBackend, LocalBackend, Work
from ..build.splitting import PassageRow, Split
from ..config import Settings
from ..embed.embedder import Embedder
from ..errors import CorpusError, IndexAccessError, IndexBusyError, IndexCorruptError
from ..ingest.scan import FORMATS
from ..ingest.sources import Loaded, Signature, Source, content_changed
from . import database as db
from . import holds, rows
from .changes import IndexedFile, diff, indexed_files, retry_raised_limits
from .codec import valid_rows
from .freeze import clean, freeze, superseded
from .integrity import Stamps
from .manifest import write_manifest
from .repair import Repairs, mend_lock_path, open_database, verify_vectors
from .runs import BuildOptions, BuildReport, UpdateProgress, moved_from

#: Paragraphs read and split before their vectors are computed and committed together.
CHUNK_PASSAGES = 4096
#: Texts per embedding call; each call's vectors are committed at once.
EMBED_BATCH = 256
#: Version of the sentence evidence; an index without it (or another) is rebuilt, reusing its vectors.
SENTENCE_EVIDENCE = 1
#: The lock file that lets one writer at a time into an index folder.
LOCK_FILE = "writer.lock"
#: Facts of a build: an index whose facts differ from the ones asked for is rebuilt from scratch.
FACTS = ("format_version", "model", "dimension", "normalized", "context", "lexical_title", "sentences", "vectors")
#: What an index recorded before a fact existed (an index from before int8 vectors has fp32 ones).
_FACT_DEFAULTS: dict[str, object] = {"vectors": "fp32"}


@dataclass
class _Chunk:
    """Files read since the last commit, and the passages to commit for them."""

    files: list[tuple[Loaded, Signature]] = field(default_factory=list)
    rows: list[PassageRow] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    windowed: int = 0

    def add(self, split: Split) -> None:
        """Take in one document's split rows."""
        self.rows.extend(split.passages)
        self.texts.update(split.texts)
        self.windowed += split.windowed

    def hashes(self) -> list[str]:
        """Every text's vector key, once: windows first, then sentences, in passage order."""
        windows = (h for row in self.rows for h in row.hashes)
        sentences = (h for row in self.rows for h in row.sentence_hashes)
        return list(dict.fromkeys([*windows, *sentences]))


@dataclass
class _Run:
    """The state of one update while it runs (the writer's lock is held)."""

    connection: sqlite3.Connection
    indexed: dict[str, IndexedFile]
    wanted: dict[str, object]
    generation: int
    total: int
    bar: Any = None
    embedded: int = 0
    #: Paragraph windows among ``embedded`` (the index's vector count counts windows only).
    embedded_windows: int = 0
    windowed: int = 0
    committed: bool = False
    dropped: set[str] = field(default_factory=set)


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
        options: BuildOptions = BuildOptions(),
    ) -> None:
        """Prepare to update ``folder`` from ``source``.

        Args:
            folder: The index folder (created if missing).
            source: The documents to index.
            settings: Indexing settings (model, context, batch size, ...).
            embedder: The embedding model.
            corpus: The corpus folder relative to ``folder``, recorded for readers.
            label: How citations name the corpus folder.
            options: Waiting, checking, progress and the backend.

        """
        self.folder = folder
        self.source = source
        self.settings = settings
        self.embedder = embedder
        self.corpus = corpus
        self.label = label
        self.options = options
        self.backend: BuildBackend = options.backend or LocalBackend()
        self._hooks = options.hooks
        self._repairs = Repairs(options.hooks.notify)

    def update(self) -> BuildReport:
        """Bring the index in line with the source and return what was done.

        Raises:
            IndexBusyError: Another update runs and ``wait`` is false.
            CorpusError: The source holds no readable text.

        """
        self.folder.mkdir(parents=True, exist_ok=True)
        mend_lock_path(self.folder / LOCK_FILE, self._repairs)
        mend_lock_path(self.folder / holds.LOCK_FILE, self._repairs, what="readers' lock")
        lock = filelock.FileLock(str(self.folder / LOCK_FILE))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if not self.options.wait:
                raise IndexBusyError(
                    f"another index update is running in {self.folder}; try again when it ends"
                ) from None
            self._hooks.notify(f"Another index update is running in {self.folder}; waiting for it to finish ...")
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

    def _wanted_meta(self, stored: dict[str, object]) -> dict[str, object]:
        """The build facts this update records (``stored``: those the index records now)."""
        # A model not loaded yet (qa.embed.deferred) is not loaded to learn the length the
        # index already records for the same model name: an update with nothing to do needs none.
        deferred = getattr(self.embedder, "loaded", True) is False
        same = stored.get("model") == self.embedder.name and isinstance(stored.get("dimension"), int)
        return {
            "format_version": db.FORMAT_VERSION,
            "model": self.embedder.name,
            "dimension": stored["dimension"] if deferred and same else self.embedder.dimension,
            "normalized": True,
            "context": self.settings.context,
            "lexical_title": self.settings.lexical_title,
            "sentences": SENTENCE_EVIDENCE if self.settings.sentences else 0,
            "vectors": "int8" if self.settings.int8 else "fp32",
            "corpus": self.corpus,
            "corpus_label": self.label,
            "corpus_path": str((self.folder / self.corpus).resolve()),
        }

    def _update_locked(self) -> BuildReport:
        """The update, with the writer lock held; the database is stamped where it was checked and left unchanged."""
        stamps = Stamps(self.folder)
        trust = self.options.trust_stamps
        # A database unchanged since a writer last verified it need not be read through again.
        verified = trust and stamps.database_verified()
        check = self.options.verify and not verified
        seen = stamps.database_seen()
        connection = open_database(self.folder, self._repairs, check=check)
        try:
            report, keep, committed = self._apply_changes(connection, stamps, check=check)
        finally:
            connection.close()
        if committed or self._repairs.done:
            # Changed (by this writer, which checked only what it wrote): a later run checks it once more.
            stamps.forget_database()
        elif check:
            # Checked and unchanged since it was seen before the check (stamped only if really so).
            stamps.record_database(seen)
        stamps.save(keep)
        return report

    def _stored_facts(self, connection: sqlite3.Connection) -> dict[str, Any]:
        """The facts the index records; malformed ones are mended by rebuilding the index from scratch."""
        try:
            stored = db.read_facts(connection)
            generation = stored.get("generation", 0)
            if not isinstance(generation, int) or isinstance(generation, bool):
                raise TypeError(f"generation {generation!r} is not a whole number")
            return stored
        except (ValueError, TypeError, RecursionError) as exc:
            self._repairs.add(
                "the malformed index metadata was rebuilt",
                f"The index metadata was malformed ({str(exc)[:200]}); the index is rebuilt from scratch.",
            )
            return {}

    def _apply_changes(
        self, connection: sqlite3.Connection, stamps: Stamps, *, check: bool
    ) -> tuple[BuildReport, set[str], bool]:
        """Find and apply the changes; return the report, the base files now in use, and whether it committed."""
        started = time.perf_counter()
        self._hooks.on_progress(UpdateProgress("scanning"))
        stored = self._stored_facts(connection)
        if self.settings.sentences is None:
            # Not chosen: an index keeps its choice of sentence vectors; a new one has them.
            self.settings = self.settings.with_(sentences=stored.get("sentences", SENTENCE_EVIDENCE) != 0)
        if self.settings.int8 is None:
            # The same for int8 document vectors: kept as the index has them; a new one is int8 on a CPU.
            if stored:
                int8 = stored.get("vectors", "fp32") == "int8"
            else:
                # A new index: int8 where the model embeds on a CPU and has a twin (loaded now: it must embed anyway).
                int8 = bool(getattr(self.embedder, "int8_ready", False))
            self.settings = self.settings.with_(int8=int8)
        wanted = self._wanted_meta(stored)
        fresh = any(stored.get(key, _FACT_DEFAULTS.get(key)) != wanted[key] for key in FACTS)
        if fresh and stored:
            self._hooks.notify("The index was built with other settings or model; rebuilding it from scratch.")
        if check and not fresh:
            verify_vectors(connection, int(wanted["dimension"]), self._repairs)  # type: ignore[call-overload]
        indexed = {} if fresh else indexed_files(connection)
        current = self.source.scan()
        if not current:
            raise CorpusError(f"no {FORMATS} files to index in {self.corpus}")
        changes = retry_raised_limits(diff(indexed, current), indexed, current)
        if fresh:
            # A rebuilt or new database gets a new epoch; generations only grow, across rebuilds too.
            wanted["epoch"] = uuid.uuid4().hex
        todo = [*changes.added, *changes.changed]
        # Recorded anew when it changed (a moved corpus or index folder); said when the corpus is another folder.
        repoint = bool(stored) and not fresh and stored.get("corpus") != self.corpus
        moved = moved_from(self.folder, stored, self.corpus) if repoint else None
        run = _Run(connection, indexed, wanted, stored.get("generation", 0), len(todo), self._bar())
        self._hooks.on_progress(UpdateProgress("embedding", 0, len(todo) + len(changes.removed)))
        unreadable = self._read_and_commit(run, todo, current, removed=changes.removed, wipe=fresh)
        if not run.committed and (changes.removed or fresh or not stored or repoint):
            # No file to read: removals, the wipe, the first state or a moved corpus are still committed.
            self._commit(run, _Chunk(), removed=changes.removed, wipe=fresh, done=0)
        if moved:
            self._hooks.notify(
                f"The corpus of this index was {moved}; it is now {self.label or self.corpus}"
                f" ({len(todo)} {'file' if len(todo) == 1 else 'files'} read again, {run.embedded} texts embedded)."
            )
        if run.bar is not None:
            run.bar.close()
        self._hooks.on_progress(UpdateProgress("merging", len(todo), len(todo)))
        # Freezing and cleaning follow a change (or a check); an idle update touches nothing.
        if run.committed or self.options.verify:
            rebuilt = freeze(connection, self.folder, self._repairs, stamps, trust=self.options.trust_stamps)
            clean(connection, self.folder, run.dropped, sweep_all=rebuilt or (fresh and bool(stored)))
        elif superseded(self.folder, db.Meta.read(connection, self.folder)):
            # Old base files a reader was still opening at the last clean: removed now that it is done.
            clean(connection, self.folder, set(), sweep_all=False)
        meta = db.Meta.read(connection, self.folder)
        report = replace(self._report(connection, meta, run, started, len(changes), unreadable), moved_from=moved or "")
        if run.committed:
            # Every file the index knows of, skipped ones too (as the ``files`` table holds them).
            write_manifest(self.folder, meta, passages=report.passages, files=rows.file_count(connection))
        self._hooks.on_progress(UpdateProgress("done", len(todo), len(todo)))
        return report, {meta.base_file, meta.lexical_file}, run.committed

    def _read_and_commit(
        self, run: _Run, todo: Sequence[str], current: dict[str, Signature], *, removed: Sequence[str], wipe: bool
    ) -> list[tuple[str, str]]:
        """Read and split the files ``todo``, committing a chunk at a time; return the files unreadable now."""
        chunk = _Chunk()
        unreadable: list[tuple[str, str]] = []
        prepared = self.backend.prepare(self.source, todo, run.indexed, Work(self.embedder, self.settings))
        for position, item in enumerate(prepared, start=1):
            loaded: Loaded | None = item.loaded
            old = run.indexed.get(item.name)
            if loaded is not None and loaded.unreadable and old is not None and old.skipped is None:
                # A file that cannot be read now keeps what was indexed from it.
                unreadable.append((item.name, loaded.skipped or "unreadable"))
                loaded = None
            if loaded is not None:
                chunk.files.append((loaded, Signature(-1, 0) if loaded.unreadable else current[item.name]))
                # The backend split the file only if its content changed (see qa.build.backend.needs_split).
                if item.split is not None:
                    chunk.add(item.split)
            if len(chunk.rows) >= CHUNK_PASSAGES or position == len(todo):
                first = not run.committed
                self._commit(run, chunk, removed=removed if first else (), wipe=wipe and first, done=position)
                chunk = _Chunk()
        return unreadable

    def _commit(self, run: _Run, chunk: _Chunk, *, removed: Sequence[str], wipe: bool, done: int) -> None:
        """Embed a chunk's missing texts, then commit its files in one transaction."""
        self._embed(run, chunk)
        self._hooks.on_progress(UpdateProgress("committing", done, run.total, run.embedded, run.embedded))
        run.windowed += chunk.windowed
        connection = run.connection
        with db.transaction(connection):
            if wipe:
                rows.wipe(connection)
            # Totals are kept up to date by difference: counting a million rows per commit would be slow.
            stored = db.read_facts(connection)
            totals = rows.Totals.stored(stored)
            changed = wipe or bool(removed)
            generation = run.generation + 1
            for name in removed:
                totals -= rows.drop_file(connection, name, generation, run.dropped)
                rows.delete_file(connection, name)
            by_source: dict[str, list[PassageRow]] = {}
            for row in chunk.rows:
                by_source.setdefault(row.passage.source, []).append(row)
            for loaded, signature in chunk.files:
                old = run.indexed.get(loaded.source)
                if content_changed(old, loaded):
                    changed = True
                    if old is not None:
                        totals -= rows.drop_file(connection, loaded.source, generation, run.dropped)
                    for row in by_source.get(loaded.source, []):
                        totals += rows.insert_passage(connection, row, generation)
                title = loaded.document.title if loaded.document is not None else ""
                rows.write_file(connection, loaded.source, signature, loaded.sha256, title, loaded.skipped)
            if totals.passages <= 0:
                # Rolled back: an update that would leave nothing to search keeps the last state.
                raise CorpusError(
                    "no paragraphs to index: no readable article text in the corpus"
                    + (f" ({len(chunk.files)} files unreadable or empty)" if chunk.files else "")
                )
            if changed:
                run.generation = generation
            # When what can be found last changed: the status line's "last update".
            when = {"updated": time.time()} if changed else {}
            db.write_meta(connection, {**run.wanted, "generation": run.generation, **when, **totals.as_meta()})
        run.committed = True
        if changed:
            self._hooks.on_commit(run.generation)

    def _embed(self, run: _Run, chunk: _Chunk) -> None:
        """Embed the chunk's missing texts, longest batches together, committing each batch."""
        unique = chunk.hashes()
        good, damaged = rows.good_vectors(run.connection, unique, self.embedder.dimension)
        if damaged:
            self._repairs.add(
                f"{damaged} damaged stored vectors re-embedded",
                f"{damaged} stored vectors were damaged; embedding them again.",
            )
        missing = [h for h in unique if h not in good]
        windows = {h for row in chunk.rows for h in row.hashes}
        run.embedded_windows += sum(h in windows for h in missing)
        # Sorting by length keeps padding low inside each batch.
        missing.sort(key=lambda h: len(chunk.texts[h]))
        if run.bar is not None and missing:
            run.bar.total += len(missing)
            # The bar was created hidden (``delay``); it appears with the first paragraph to embed.
            run.bar.delay = 0
            run.bar.refresh()
        batches = [missing[start : start + EMBED_BATCH] for start in range(0, len(missing), EMBED_BATCH)]
        texts = [[chunk.texts[h] for h in batch] for batch in batches]
        # Batches may come back in any order (from a cluster); each is committed as it arrives.
        for number, vectors in self.backend.embed(texts, Work(self.embedder, self.settings)):
            batch = batches[number]
            if vectors.shape != (len(batch), self.embedder.dimension):
                raise IndexCorruptError(
                    f"the model returned vectors of shape {vectors.shape} for {len(batch)} texts of "
                    f"{self.embedder.dimension} dimensions"
                )
            bad = ~valid_rows(vectors, normalized=True)
            if bad.any():
                raise IndexCorruptError(f"the model returned {int(bad.sum())} vectors that are not finite unit vectors")
            rows.store_vectors(run.connection, batch, vectors)
            run.embedded += len(batch)
            if run.bar is not None:
                run.bar.update(len(batch))

    def _bar(self) -> Any:
        """A tqdm progress bar over embedded texts, if asked for: shown once there is something to embed."""
        if not self.options.progress_bar:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=0, unit="text", desc="Embedding paragraphs and sentences", leave=False, delay=float("inf"))

    def _report(
        self,
        connection: sqlite3.Connection,
        meta: db.Meta,
        run: _Run,
        started: float,
        updated: int,
        unreadable: list[tuple[str, str]],
    ) -> BuildReport:
        """Totals of the index after the update (from the totals the database keeps, not by counting rows)."""
        files, skipped = rows.file_totals(connection)
        skipped = [*unreadable, *skipped]
        if meta.passage_count <= 0:
            detail = f" ({len(skipped)} unreadable)" if skipped else ""
            raise CorpusError(f"no paragraphs to index: no readable article text in the corpus{detail}")
        return BuildReport(
            files=files,
            passages=meta.passage_count,
            vectors=meta.vector_count,
            embedded=run.embedded,
            # Paragraph vectors kept: sentences embedded by this run are not subtracted from them.
            reused=max(0, meta.vector_count - run.embedded_windows),
            windowed=run.windowed,
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
            updated_files=updated,
            repaired=tuple(self._repairs.done),
            model=meta.model,
        )
