"""The index a program works with: build, load, refresh, search and answer.

:class:`Index` answers from one read-only snapshot; :func:`build_index` runs the writer;
:class:`qa.live.LiveIndex` keeps a snapshot current while the corpus changes. This module
wires the layers below together and decides nothing itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from . import update
from .answer.answerability import Answerability
from .answer.compose import Answer, Answerer
from .answer.decision import Decision
from .build.backend import BuildBackend
from .config import RetrieverName, Settings, canonical_model_name
from .embed.embedder import Embedder, Lazy
from .errors import CorpusError, IndexFormatError, IndexMismatchError, IndexNotFoundError, shown
from .ingest.sources import FolderSource
from .search.hits import Hit, Ranking
from .search.request import Request, check_mode
from .search.retrieval import Retriever
from .store.basefiles import Base
from .store.catalog import DocumentInfo
from .store.changes import CorpusChanges, confirm, diff, retry_raised_limits
from .store.manifest import Manifest, recorded_corpus
from .store.reading import reading
from .store.runs import BuildOptions, BuildReport, UpdateProgress
from .store.snapshot import Snapshot
from .text.passages import Document, Passage
from .update import build_options, check_settings, ignore, update_documents, update_index

__all__ = [
    "BuildReport",
    "CorpusChanges",
    "Index",
    "build_from_documents",
    "build_index",
    "ensure_index",
    "load_index",
]


class Index:
    """One committed state of an index over a corpus folder: the retrieval API of the package."""

    def __init__(
        self,
        folder: Path,
        snapshot: Snapshot,
        *,
        settings: Settings,
        embedder: Embedder | None = None,
        report: BuildReport | None = None,
    ) -> None:
        """Wrap a snapshot; use :func:`build_index` or :func:`load_index` instead."""
        self.folder = folder
        self.snapshot = snapshot
        self.manifest: Manifest = snapshot.manifest
        self.settings = settings
        self.report = report
        # The model, loaded on the first question that needs it (through the one loader, qa.update).
        self._model = Lazy(self.manifest.model, lambda name: update.load_embedder(name), embedder)
        label = self.manifest.corpus_label
        self._retriever = Retriever(snapshot, embedder=self._model, settings=settings, label=label)
        #: Decides, checks quotes and highlights for this state (``answerer.scorer`` scores sentences).
        self.answerer = Answerer(
            settings,
            sentences=self.manifest.sentences,
            corpus=self.corpus,
            files=self.manifest.files,
            label=label,
            embedder=self._model,
        )

    @property
    def corpus(self) -> Path:
        """The corpus folder this index was built from (found by its absolute path if the index folder moved)."""
        relative = (self.folder / self.manifest.corpus).resolve()
        recorded = self.snapshot.meta.corpus_path
        if not relative.is_dir() and recorded and Path(recorded).is_dir():
            return Path(recorded)
        return relative

    @property
    def generation(self) -> int:
        """The commit this index shows; bumped by every update that changed content."""
        return self.snapshot.generation

    @property
    def passages(self) -> tuple[Passage, ...]:
        """Every indexed passage, in corpus order (read from disk on each call)."""
        with reading(self.folder, self.snapshot.connection):
            return tuple(self.snapshot.all_passages())

    def documents(self) -> list[DocumentInfo]:
        """Every file of the corpus this state records, indexed or skipped (with the reason), sorted by path."""
        with reading(self.folder, self.snapshot.connection):
            return self.snapshot.documents()

    def passages_of(self, source: str) -> list[Passage]:
        """The indexed paragraphs of one file (relative to the corpus folder), in order; none if it is not indexed."""
        with reading(self.folder, self.snapshot.connection):
            return self.snapshot.passages_of(source)

    def __len__(self) -> int:
        """Number of indexed passages."""
        return len(self.snapshot)

    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        return self._model()

    def changes(self) -> CorpusChanges:
        """Files added, edited and removed since this state: size and time first, then content hash.

        A file skipped for a reader limit that has been raised since counts as edited.
        """
        root = self.corpus
        source = FolderSource(root, limit_mb=self.settings.max_file_mb)
        indexed = self.snapshot.indexed
        current = source.scan() if root.is_dir() else {}
        # An edit is confirmed by the hash of the bytes alone: no reader runs.
        confirmed = confirm(diff(indexed, current), indexed, lambda n: source.fetch(n).sha256)
        return retry_raised_limits(confirmed, indexed, current)

    def refresh(self, *, progress: bool = False) -> Index:
        """Apply the corpus's changes (re-embedding only changed paragraphs) and return the new state."""
        return build_index(
            self.corpus,
            self.folder,
            settings=self.settings,
            embedder=self._model.loaded,
            progress=progress,
            label=self.manifest.corpus_label,
        )

    def sources(self) -> list[str]:
        """Every indexed file, relative to the corpus folder, sorted: choices for ``sources``."""
        with reading(self.folder, self.snapshot.connection):
            return self.snapshot.sources()

    def folders(self) -> list[str]:
        """Every folder holding indexed files, as ``sub/``, sorted: choices for ``sources``."""
        with reading(self.folder, self.snapshot.connection):
            return self.snapshot.folders()

    def rank(
        self,
        question: str,
        k: int = 5,
        *,
        retriever: RetrieverName | None = None,
        sources: Sequence[str] | None = None,
        history: Sequence[str] = (),
    ) -> Ranking:
        """Ranked hits plus the evidence used for abstention (see :class:`~qa.search.hits.Ranking`).

        ``history`` are the earlier questions of a conversation, as for :meth:`answer`.

        Raises:
            QueryError: The question, ``k``, ``retriever``, ``sources`` or ``history`` is unusable.

        """
        request = Request.checked(
            question, k, settings=self.settings, retriever=retriever, sources=sources, history=history
        )
        with reading(self.folder, self.snapshot.connection):
            return self._retriever.rank(self._retriever.resolve(request))

    def search(
        self,
        question: str,
        k: int = 5,
        *,
        retriever: RetrieverName | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` passages that best match ``question``, best first.

        Args:
            question: The question, 1 to ``settings.max_question_chars`` characters.
            k: How many hits to return.
            retriever: ``dense``, ``lexical`` or ``hybrid``; defaults to the settings.
            sources: Search only these files and folders (as in :meth:`sources` and
                :meth:`folders`, e.g. ``["a.txt", "sub/"]``); ``None`` searches everything.

        Raises:
            QueryError: The question, ``k``, ``retriever`` or ``sources`` is unusable.
            IndexMismatchError: The model's vectors are not as long as the indexed ones.

        """
        return list(self.rank(question, k, retriever=retriever, sources=sources).hits)

    def answer(
        self,
        question: str,
        k: int | None = None,
        *,
        retriever: RetrieverName | None = None,
        sources: Sequence[str] | None = None,
        history: Sequence[str] = (),
    ) -> Answer:
        """Answer ``question`` with verbatim quotes, or say that nothing answers it.

        Every quote is checked against its file first: it is shown only if the file's
        current bytes at its offsets are its text; a paragraph that moved is cited where
        it is now, and one that is gone is dropped with a warning.

        Of the ``k`` passages ranked, those that clear the relevance cut (the best, plus
        those within ``settings.quote_margin`` of it or with a cosine of at least
        ``settings.quote_level``) are the quotes; the rest are ``Answer.more``.

        Args:
            question: The question.
            k: Passages to rank (quotes plus more); default ``settings.answer_k``.
            retriever: Overrides the configured retriever.
            sources: Files or folders to search in (default: all).
            history: Earlier questions of a conversation, oldest first. A follow-up
                ("and in Isfahan?") is searched with the previous question's subject;
                without ``history`` the question is searched as it is.

        Raises:
            QueryError: The question, ``k``, ``sources`` or ``history`` is unusable.

        """
        request = Request.checked(
            question,
            self.settings.answer_k if k is None else k,
            settings=self.settings,
            retriever=retriever,
            sources=sources,
            history=history,
        )
        with reading(self.folder, self.snapshot.connection):
            request = self._retriever.resolve(request)
            return self.answerer.respond(request, self._retriever.rank(request))

    def answerability(self, retriever: RetrieverName | None = None) -> Answerability:
        """The calibrated answerability model in force.

        The one fitted for this index's embedding model; the generic one (keyword features
        only) for a model without a calibration of its own and for the lexical retriever.
        """
        return self.answerer.model(check_mode(retriever, self.settings.retriever))

    def judge(self, ranking: Ranking, retriever: RetrieverName | None = None) -> Decision:
        """``(found, weak, confidence)`` for a ranking (see :func:`qa.answer.decision.decide`)."""
        return self.answerer.decide(ranking, check_mode(retriever, self.settings.retriever))


def build_from_documents(
    documents: list[Document],
    out: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    label: str = "",
) -> Index:
    """Index ``documents`` (not files: BEIR corpora) into the folder ``out`` and return the index."""
    if not documents:
        raise CorpusError("no documents to index")
    settings = check_settings(settings)
    model = embedder or update.build_embedder(settings.model)
    report = update_documents(
        documents, out, settings=settings, embedder=model, label=label, options=BuildOptions(progress_bar=progress)
    )
    return _opened(Path(out), settings, model, report)


def _opened(folder: Path, settings: Settings, embedder: Embedder, report: BuildReport) -> Index:
    """The state an update just committed, with the settings it was built with."""
    snapshot = Snapshot.open(folder)
    built = settings.with_(model=embedder.name, sentences=snapshot.manifest.sentences, int8=snapshot.manifest.int8)
    return Index(folder, snapshot, settings=built, embedder=embedder, report=report)


def build_index(
    corpus: str | os.PathLike[str] = "seeds",
    out: str | os.PathLike[str] = "embeddings",
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    label: str | None = None,
    wait: bool = True,
    verify: bool = False,
    notify: Callable[[str], None] = ignore,
    on_progress: Callable[[UpdateProgress], None] = ignore,
    on_commit: Callable[[int], None] = ignore,
    backend: BuildBackend | None = None,
) -> Index:
    """Bring the index in ``out`` up to date with the corpus folder and return it.

    Only files whose size, time and then content changed are read again; only their
    paragraphs are embedded again. Readers keep seeing the last committed state
    meanwhile, and a crash leaves it intact; the next build resumes.

    Args:
        corpus: Folder of articles (text, Markdown, HTML, PDF, Word; read recursively).
        out: Index folder.
        settings: Model and retrieval settings (``max_file_mb``: the largest file read).
        embedder: A model to use instead of ``settings.model``.
        progress: Show a progress bar while embedding.
        label: How citations name the corpus folder (defaults to ``corpus`` as given).
        wait: Wait for another process's update of ``out`` instead of raising.
        verify: Check the database and base files for damage first (what changed since
            they were last verified) and repair what is found.
        notify: Receives one-line messages (waiting, repairs).
        on_progress: Receives progress as the update runs.
        on_commit: Called after each commit that changed what is searchable.
        backend: Where files are read and split and texts embedded (default: this process;
            ``qa.build.cluster.connect(address)`` gives a Ray cluster's backend).

    Raises:
        CorpusError: The folder is missing, a file, or holds no readable text.
        IndexAccessError: ``out`` is a file, or lies under one.
        SettingsError: ``settings`` is not a :class:`Settings`.
        ModelError: The embedding model cannot be loaded.
        IndexBusyError: Another update runs and ``wait`` is false.

    """
    settings = check_settings(settings)
    model = embedder or update.build_embedder(settings.model)
    options = build_options(
        progress=progress,
        wait=wait,
        verify=verify,
        notify=notify,
        on_progress=on_progress,
        on_commit=on_commit,
        backend=backend,
    )
    report = update_index(corpus, out, settings=settings, embedder=model, label=label, options=options)
    return _opened(Path(out), settings, model, report)


def load_index(
    folder: str | os.PathLike[str] = "embeddings",
    *,
    model: str | None = None,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    reuse: Base | None = None,
) -> Index:
    """Open the newest committed state of an index built by :func:`build_index`.

    Args:
        folder: The index folder.
        model: The model the caller expects; an index built with another is refused.
        settings: Retrieval settings (the model and context come from the index).
        embedder: A model to use instead of loading the one the index names.
        reuse: Opened base files (``index.snapshot.frozen``) to share with this state if they still apply.

    Raises:
        IndexNotFoundError: ``folder`` holds no index.
        IndexCorruptError: A part of the index is damaged; the message names it.
        IndexMismatchError: The index was built with another model or format, or ``embedder``
            gives vectors of another length.
        SettingsError: ``settings`` is not a :class:`Settings`.

    """
    if not isinstance(folder, str | os.PathLike) or not os.fspath(folder):
        raise IndexNotFoundError(f"the index folder must be a path, not {shown(folder)}")
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise IndexNotFoundError(f"{path} is a file, not an index folder: build one with `qa index`")
    base = check_settings(settings)
    snapshot = Snapshot.open(path, reuse=reuse)
    built_with = snapshot.manifest.model
    wanted = canonical_model_name(model) if model else None
    if wanted is None and embedder is not None:
        wanted = embedder.name
    if wanted is not None and wanted != built_with:
        snapshot.close()
        raise IndexMismatchError(
            f"the index in {path} was built with model {built_with!r}, not {wanted!r}; "
            f"rebuild it with `qa index --model {wanted}` or drop --model"
        )
    if embedder is not None and embedder.dimension != snapshot.manifest.dimension:
        snapshot.close()
        raise IndexMismatchError(
            f"the index in {path} holds vectors of {snapshot.manifest.dimension} dimensions, but the model "
            f"{embedder.name!r} gives {embedder.dimension}; rebuild it with `qa index` or use the model it was "
            "built with"
        )
    # The model and the context setting are facts of the built index, not choices.
    resolved = base.with_(
        model=built_with,
        context=snapshot.manifest.context,
        lexical_title=snapshot.manifest.lexical_title,
        sentences=snapshot.manifest.sentences,
        int8=snapshot.manifest.int8,
    )
    return Index(path, snapshot, settings=resolved, embedder=embedder)


def ensure_index(
    folder: str | os.PathLike[str] = "embeddings",
    corpus: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    settings: Settings | None = None,
    refresh: bool = True,
    progress: bool = False,
    notify: Callable[[str], None] = ignore,
    default_corpus: str | os.PathLike[str] = "seeds",
) -> Index:
    """Load the index in ``folder``, building it or bringing it up to date as needed.

    Args:
        folder: The index folder.
        corpus: Corpus to build from when there is no index yet, or to check against
            instead of the one recorded in the index.
        model: Model the caller expects; a mismatch raises instead of silently rebuilding.
        settings: Retrieval settings.
        refresh: Update the index when the corpus changed since it was built.
        progress: Show progress bars while embedding.
        notify: Receives one-line messages about what is being done.
        default_corpus: Corpus to build from when ``corpus`` is not given and the folder
            records none (no index yet): ``seeds``, or the CLI's ``$QA_CORPUS``.

    Raises:
        IndexMismatchError: The index was built with another model.
        CorpusError: The corpus is missing or unreadable.
        SettingsError: ``settings`` is not a :class:`Settings`.

    """
    settings = check_settings(settings)
    if model:
        settings = settings.with_(model=model)
    source = corpus if corpus is not None else (recorded_corpus(Path(folder)) or default_corpus)
    try:
        index = load_index(folder, model=model, settings=settings)
    except IndexNotFoundError:
        notify(f"No index in {folder} yet: building it from {source}/ ...")
        return build_index(source, folder, settings=settings, progress=progress, notify=notify)
    except IndexFormatError:
        notify(f"The index in {folder} is in an older format: rebuilding it from {source}/ ...")
        return build_index(source, folder, settings=settings, progress=progress, notify=notify)
    if corpus is not None and Path(corpus).resolve() != index.corpus:
        notify(f"The index in {folder} was built from {index.corpus}; rebuilding it from {corpus}/ ...")
        return build_index(corpus, folder, settings=index.settings, progress=progress, notify=notify)
    if refresh:
        changes = index.changes()
        if changes:
            notify(f"The articles changed since the last build ({changes.describe()}): updating the index ...")
            return index.refresh(progress=progress)
    return index
