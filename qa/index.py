"""The index a program works with: build, load, refresh, search and answer.

:class:`Index` answers from one read-only snapshot; :func:`build_index` runs the writer;
:class:`qa.live.LiveIndex` keeps a snapshot current while the corpus changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from .answerability import GENERIC, Answerability, calibration, for_model
from .answers import Answer, SourceChecker, compose, quote_count
from .backend import BuildBackend
from .config import RetrieverName, Settings, canonical_model_name
from .documents import Document, Passage
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import (
    CorpusError,
    IndexAccessError,
    IndexMismatchError,
    IndexNotFoundError,
    QueryError,
    SettingsError,
    shown,
)
from .followup import resolve
from .lexical import terms_of, tokens
from .retrieval import Hit, Ranking, Retriever, check_text
from .snapshot import Base, Manifest, Snapshot
from .sources import DocumentSource, FolderSource, Source
from .writer import BuildReport, CorpusChanges, IndexedFile, IndexWriter, UpdateProgress, diff

__all__ = [
    "BuildReport",
    "CorpusChanges",
    "Index",
    "Manifest",
    "build_from_documents",
    "build_index",
    "display_path",
    "ensure_index",
    "load_index",
]

#: Weight of the share of question words a sentence contains, when choosing highlights.
_OVERLAP_WEIGHT = 0.5
#: Words that ask rather than say what is asked about; they do not count as shared key words.
_QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "when", "where", "which", "why", "how"})
#: Shortest stem that counts as the start of a family of words ("direct": "director").
_FAMILY = 5
#: Fewest content words a question needs for an answer without the weak-match caveat.
MIN_CONFIDENT_TERMS = 2


def display_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


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
        self._embedder: Embedder | None = embedder
        self._retriever = Retriever(
            snapshot, embedder=self.embedder, settings=settings, label=self.manifest.corpus_label
        )

    @property
    def corpus(self) -> Path:
        """The corpus folder this index was built from."""
        return (self.folder / self.manifest.corpus).resolve()

    @property
    def generation(self) -> int:
        """The commit this index shows; bumped by every update that changed content."""
        return self.snapshot.generation

    @property
    def passages(self) -> tuple[Passage, ...]:
        """Every indexed passage, in corpus order (read from disk on each call)."""
        return tuple(self.snapshot.all_passages())

    def __len__(self) -> int:
        """Number of indexed passages."""
        return len(self.snapshot)

    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.manifest.model)
        return self._embedder

    def changes(self) -> CorpusChanges:
        """Files added, edited and removed since this state: size and time first, then content hash."""
        root = self.corpus
        source = FolderSource(root)
        current = source.scan() if root.is_dir() else {}
        known = {
            name: IndexedFile(size, mtime, self.manifest.files.get(name, ""), self.manifest.skipped.get(name))
            for name, (size, mtime) in self.snapshot.signatures.items()
        }
        rough = diff(known, current)
        # A file whose size or time changed is edited only if its bytes hash differently.
        edited = tuple(name for name in rough.changed if source.load(name).sha256 != known[name].sha256)
        return CorpusChanges(added=rough.added, removed=rough.removed, changed=edited)

    def refresh(self, *, progress: bool = False) -> Index:
        """Apply the corpus's changes (re-embedding only changed paragraphs) and return the new state."""
        return build_index(
            self.corpus,
            self.folder,
            settings=self.settings,
            embedder=self._embedder,
            progress=progress,
            label=self.manifest.corpus_label,
        )

    def sources(self) -> list[str]:
        """Every indexed file, relative to the corpus folder, sorted: choices for ``sources``."""
        return self.snapshot.sources()

    def folders(self) -> list[str]:
        """Every folder holding indexed files, as ``sub/``, sorted: choices for ``sources``."""
        return self.snapshot.folders()

    def rank(
        self,
        question: str,
        k: int = 5,
        *,
        retriever: RetrieverName | None = None,
        sources: Sequence[str] | None = None,
    ) -> Ranking:
        """Ranked hits plus the evidence used for abstention (see :class:`Ranking`)."""
        return self._retriever.rank(question, k, retriever=retriever, sources=sources)

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
            QueryError: The question, ``k`` or ``sources`` is unusable.

        """
        # Question, history and retriever are checked before the follow-up is resolved.
        question = self._retriever.check_question(question)
        mode = self._retriever.mode(retriever)
        earlier = _check_history(history)
        searched = resolve(question, earlier) if earlier else question
        ranking = self.rank(searched, self.settings.answer_k if k is None else k, retriever=mode, sources=sources)
        settings = self.settings
        found, weak, confidence = self.judge(ranking, mode)
        return compose(
            question,
            ranking,
            found=found,
            weak=weak,
            confidence=confidence,
            label=self.manifest.corpus_label,
            checker=SourceChecker(self.corpus, self.manifest.files),
            score_sentences=self.score_sentences,
            cut=lambda quotes: quote_count(
                quotes, margin=settings.quote_margin, level=settings.quote_level, relative=mode == "lexical"
            ),
            highlight_bar=settings.highlight_bar,
            highlight_within=settings.highlight_within,
            highlight_sentences=settings.highlight_sentences,
            searched=searched,
        )

    def answerability(self, retriever: RetrieverName | None = None) -> Answerability:
        """The calibrated answerability model in force.

        The one fitted for this index's embedding model; the generic one (keyword features
        only) for a model without a calibration of its own and for the lexical retriever.
        """
        if self._retriever.mode(retriever) == "lexical":
            return calibration(GENERIC)
        return for_model(self.settings.model, sentences=self.manifest.sentences)

    def confidence(self, ranking: Ranking, retriever: RetrieverName | None = None) -> float | None:
        """The probability that the ranking's best passage answers (``None`` without evidence)."""
        model = self.answerability(retriever)
        if ranking.evidence is None or not model.usable(ranking.evidence):
            return None
        return model.probability(ranking.evidence)

    def judge(self, ranking: Ranking, retriever: RetrieverName | None = None) -> tuple[bool, bool, float | None]:
        """``(found, weak, confidence)`` for a ranking.

        ``found``: the best passage answers (else the bot abstains); ``weak``: found, but
        below the confident level, so the answer says to check the quotes; ``confidence``:
        the answerability probability. With ``settings.threshold`` set, the best cosine
        decides instead of the model (an expert override); the probability is still given.
        """
        settings = self.settings
        confidence = self.confidence(ranking, retriever)
        if settings.threshold is not None and self._retriever.mode(retriever) != "lexical":
            cosine = ranking.best_cosine
            found = cosine is not None and cosine >= settings.threshold
            level = settings.threshold if settings.confident is None else max(settings.confident, settings.threshold)
            weak = cosine is not None and cosine < level
        elif confidence is None:
            return False, False, None
        else:
            model = self.answerability(retriever)
            floor = settings.min_confidence if settings.min_confidence is not None else model.abstain_below
            level = (
                settings.confident_confidence if settings.confident_confidence is not None else model.confident_above
            )
            found = confidence >= floor
            weak = confidence < max(level, floor)
        # One content word names a topic, not a question: whatever matches it is only a weak match.
        if ranking.evidence is not None and ranking.evidence.terms < MIN_CONFIDENT_TERMS:
            weak = True
        return found, found and weak, confidence

    def is_answer(self, ranking: Ranking, retriever: RetrieverName | None = None) -> bool:
        """Whether a ranking holds an answer or the bot should abstain (see :meth:`judge`)."""
        return self.judge(ranking, retriever)[0]

    def score_sentences(self, question: str, sentences: list[str]) -> np.ndarray:
        """How well each sentence answers: cosine with the question plus the share of its key words.

        A key word counts when the sentence has it or a word of the same stem family
        (one stem starting the other, "direct" and "director").
        """
        vectors = self.embedder().encode([question, *sentences])
        terms = set(tokens(question)) - _QUESTION_WORDS
        overlap = [_shared(terms, set(words)) / len(terms) if terms else 0.0 for words in terms_of(sentences)]
        scores: np.ndarray = vectors[1:] @ vectors[0] + _OVERLAP_WEIGHT * np.asarray(overlap)
        return scores


def _shared(terms: set[str], words: set[str]) -> int:
    """How many of the question's ``terms`` the sentence's ``words`` hold, counting stem families."""
    return sum(
        1
        for term in terms
        if term in words
        or any(len(w) >= _FAMILY and len(term) >= _FAMILY and (w.startswith(term) or term.startswith(w)) for w in words)
    )


def _update(
    source: Source,
    out: str | os.PathLike[str],
    *,
    settings: Settings | None,
    embedder: Embedder | None,
    progress: bool,
    corpus: Path,
    label: str,
    wait: bool = True,
    verify: bool = False,
    notify: Callable[[str], None] = lambda _message: None,
    on_progress: Callable[[UpdateProgress], None] = lambda _progress: None,
    on_commit: Callable[[int], None] = lambda _generation: None,
    backend: BuildBackend | None = None,
) -> Index:
    """Run the writer over ``source`` into ``out`` and open the result."""
    settings = _check_settings(settings)
    folder = _index_folder(out)
    model = embedder or SentenceTransformerEmbedder(settings.model)
    writer = IndexWriter(
        folder,
        source,
        settings=settings,
        embedder=model,
        corpus=_relative(corpus, folder),
        label=label,
        wait=wait,
        notify=notify,
        on_progress=on_progress,
        progress_bar=progress,
        verify=verify,
        on_commit=on_commit,
        backend=backend,
    )
    report = writer.update()
    snapshot = Snapshot.open(folder)
    resolved = settings.with_(model=model.name)
    return Index(folder, snapshot, settings=resolved, embedder=model, report=report)


def _check_settings(settings: object) -> Settings:
    """``settings``, or the defaults for ``None``; anything else is refused."""
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise SettingsError(f"settings must be a qa.Settings, not {type(settings).__name__}")
    return settings


def _index_folder(out: object) -> Path:
    """``out`` as the index folder, refused if it is not a path or a file stands in its way.

    Raises:
        IndexAccessError: ``out`` is not a path, is a file, or lies under a file.

    """
    if not isinstance(out, str | os.PathLike) or not os.fspath(out):
        raise IndexAccessError(f"the index folder must be a path, not {shown(out)}")
    folder = Path(out)
    # The folder or its nearest existing parent must be a folder: the writer creates the rest.
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == folder else f"lies under the file {existing}"
        raise IndexAccessError(f"cannot write the index to {folder}: it {where}; choose a folder (--index)")
    return folder


def _check_history(history: object) -> list[str]:
    """Earlier questions as a list of text, or :class:`QueryError`."""
    if isinstance(history, str | bytes) or not isinstance(history, Iterable):
        raise QueryError("history must be a list of earlier questions")
    earlier = list(history)
    for question in earlier:
        if not isinstance(question, str):
            raise QueryError(f"history must be a list of earlier questions, not of {type(question).__name__}")
        check_text(question, "an earlier question")
    return earlier


def _relative(corpus: Path, folder: Path) -> str:
    """``corpus`` relative to ``folder`` (which may not exist yet)."""
    return os.path.relpath(corpus.resolve(), folder.resolve())


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
    return _update(
        DocumentSource(documents),
        out,
        settings=settings,
        embedder=embedder,
        progress=progress,
        corpus=Path(out),
        label=label,
    )


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
    notify: Callable[[str], None] = lambda _message: None,
    on_progress: Callable[[UpdateProgress], None] = lambda _progress: None,
    on_commit: Callable[[int], None] = lambda _generation: None,
    backend: BuildBackend | None = None,
) -> Index:
    """Bring the index in ``out`` up to date with the corpus folder and return it.

    Only files whose size, time and then content changed are read again; only their
    paragraphs are embedded again. Readers keep seeing the last committed state
    meanwhile, and a crash leaves it intact; the next build resumes.

    Args:
        corpus: Folder of ``*.txt``/``*.md`` articles (read recursively).
        out: Index folder.
        settings: Model and retrieval settings.
        embedder: A model to use instead of ``settings.model``.
        progress: Show a progress bar while embedding.
        label: How citations name the corpus folder (defaults to ``corpus`` as given).
        wait: Wait for another process's update of ``out`` instead of raising.
        verify: Check the whole database for damage first.
        notify: Receives one-line messages (waiting, repairs).
        on_progress: Receives progress as the update runs.
        on_commit: Called after each commit that changed what is searchable.
        backend: Where files are read and split and texts embedded (default: this process;
            ``qa.distributed.connect(address)`` gives a Ray cluster's backend).

    Raises:
        CorpusError: The folder is missing, a file, or holds no readable text.
        IndexAccessError: ``out`` is a file, or lies under one.
        SettingsError: ``settings`` is not a :class:`Settings`.
        ModelError: The embedding model cannot be loaded.
        IndexBusyError: Another update runs and ``wait`` is false.

    """
    if not isinstance(corpus, str | os.PathLike) or not os.fspath(corpus):
        raise CorpusError(f"the corpus must be a folder path, not {shown(corpus)}")
    root = Path(corpus)
    if root.exists() and not root.is_dir():
        raise CorpusError(f"the corpus {root} is a file, not a folder of articles")
    if not root.is_dir():
        raise CorpusError(f"corpus folder not found: {root}")
    return _update(
        FolderSource(root),
        out,
        settings=settings,
        embedder=embedder,
        progress=progress,
        corpus=root,
        label=label if label is not None else display_path(root),
        wait=wait,
        verify=verify,
        notify=notify,
        on_progress=on_progress,
        on_commit=on_commit,
        backend=backend,
    )


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
    base = _check_settings(settings)
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
    notify: Callable[[str], None] = lambda _message: None,
) -> Index:
    """Load the index in ``folder``, building it or bringing it up to date as needed.

    Args:
        folder: The index folder.
        corpus: Corpus to build from when there is no index yet (default ``seeds``), or to
            check against instead of the one recorded in the index.
        model: Model the caller expects; a mismatch raises instead of silently rebuilding.
        settings: Retrieval settings.
        refresh: Update the index when the corpus changed since it was built.
        progress: Show progress bars while embedding.
        notify: Receives one-line messages about what is being done.

    Raises:
        IndexMismatchError: The index was built with another model.
        CorpusError: The corpus is missing or unreadable.

    """
    settings = settings or Settings()
    if model:
        settings = settings.with_(model=model)
    source = corpus if corpus is not None else (_recorded_corpus(Path(folder)) or "seeds")
    try:
        index = load_index(folder, model=model, settings=settings)
    except IndexNotFoundError:
        notify(f"No index in {folder} yet: building it from {source}/ ...")
        return build_index(source, folder, settings=settings, progress=progress, notify=notify)
    except IndexMismatchError as exc:
        if "older format" not in str(exc):
            raise
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


def _recorded_corpus(folder: Path) -> str | None:
    """The corpus folder an index's ``manifest.json`` records, if it is still there."""
    import json

    try:
        recorded = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("corpus")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(recorded, str) or not recorded:
        return None
    path = folder / recorded
    return str(path) if path.is_dir() else None
