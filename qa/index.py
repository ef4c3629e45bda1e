"""The index a program works with: build, load, refresh, search and answer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answers import Answer, SourceChecker, compose
from .config import RetrieverName, Settings, canonical_model_name
from .documents import Document, Passage, corpus_files, read_corpus, source_name, split_passages, text_sha256
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import CorpusError, IndexMismatchError
from .lexical import LexicalIndex
from .retrieval import Hit, Ranking, Retriever
from .store import FORMAT_VERSION, Loaded, Manifest, StoredPassage, fingerprint, load, save
from .vectors import VectorIndex

#: Tokens kept for the model's own start and end markers.
_SPECIAL_TOKENS = 2
#: Weight of the share of question words a sentence contains, when choosing highlights.
_OVERLAP_WEIGHT = 0.5
#: A window never shrinks below this many tokens, however long the context prefix.
_MIN_WINDOW = 64


@dataclass(frozen=True)
class CorpusChanges:
    """How the corpus folder differs from what the index was built from."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        """True when anything changed."""
        return bool(self.added or self.removed or self.changed)

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
    """What a build did, for the person who ran it."""

    files: int
    passages: int
    vectors: int
    embedded: int
    reused: int
    windowed: int
    skipped: tuple[tuple[str, str], ...]
    seconds: float


def scan_corpus(root: Path) -> dict[str, str]:
    """SHA-256 of the raw bytes of every corpus file under ``root``."""
    import hashlib

    hashes: dict[str, str] = {}
    for path in corpus_files(root):
        try:
            hashes[source_name(root, path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            # An unreadable file is skipped by the build; record it so a fix is noticed.
            hashes[source_name(root, path)] = f"unreadable: {exc.strerror or exc}"
    return hashes


def display_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def context_prefix(document: Document) -> str:
    """The article context embedded before each of its paragraphs: title and lead sentence."""
    parts = [part for part in (document.title, document.lead) if part]
    return " ".join(parts)


class Index:
    """A loaded index over a corpus folder: the retrieval API of the package."""

    def __init__(
        self,
        folder: Path,
        loaded: Loaded,
        *,
        settings: Settings,
        embedder: Embedder | None = None,
        report: BuildReport | None = None,
    ) -> None:
        """Wrap loaded index parts; use :func:`build_index` or :func:`load_index` instead."""
        self.folder = folder
        self.manifest = loaded.manifest
        self.settings = settings
        self.report = report
        self._loaded = loaded
        self._embedder: Embedder | None = embedder
        rows = np.array([pid for pid, s in enumerate(loaded.passages) for _ in s.windows], dtype=np.int64)
        self._retriever = Retriever(
            passages=[s.passage for s in loaded.passages],
            row_passage=rows,
            vectors=loaded.vectors,
            lexical=loaded.lexical,
            embedder=self.embedder,
            settings=settings,
            label=loaded.manifest.corpus_label,
        )

    @property
    def corpus(self) -> Path:
        """The corpus folder this index was built from."""
        return (self.folder / self.manifest.corpus).resolve()

    @property
    def passages(self) -> tuple[Passage, ...]:
        """Every indexed passage, in corpus order."""
        return tuple(s.passage for s in self._loaded.passages)

    def __len__(self) -> int:
        """Number of indexed passages."""
        return len(self._loaded.passages)

    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.manifest.model)
        return self._embedder

    def changes(self) -> CorpusChanges:
        """Compare the corpus folder on disk with the files the index was built from."""
        root = self.corpus
        now = scan_corpus(root) if root.is_dir() else {}
        before = self.manifest.files
        return CorpusChanges(
            added=tuple(sorted(set(now) - set(before))),
            removed=tuple(sorted(set(before) - set(now))),
            changed=tuple(sorted(s for s in set(now) & set(before) if now[s] != before[s])),
        )

    def refresh(self, *, progress: bool = False) -> Index:
        """Rebuild from the corpus folder, re-embedding only paragraphs that changed."""
        return build_index(
            self.corpus,
            self.folder,
            settings=self.settings,
            embedder=self._embedder,
            progress=progress,
            label=self.manifest.corpus_label,
        )

    def rank(self, question: str, k: int = 5, *, retriever: RetrieverName | None = None) -> Ranking:
        """Ranked hits plus the evidence used for abstention (see :class:`Ranking`)."""
        return self._retriever.rank(question, k, retriever=retriever)

    def search(self, question: str, k: int = 5, *, retriever: RetrieverName | None = None) -> list[Hit]:
        """The ``k`` passages that best match ``question``, best first.

        Args:
            question: The question, 1 to ``settings.max_question_chars`` characters.
            k: How many hits to return.
            retriever: ``dense``, ``lexical`` or ``hybrid``; defaults to the settings.

        Raises:
            QueryError: The question or ``k`` is unusable.

        """
        return list(self.rank(question, k, retriever=retriever).hits)

    def answer(self, question: str, k: int | None = None, *, retriever: RetrieverName | None = None) -> Answer:
        """Answer ``question`` with verbatim quotes, or say that nothing answers it.

        Every quote is checked against its file first: a paragraph that moved is cited
        where it is now, and one that is gone is dropped with a warning.

        Raises:
            QueryError: The question or ``k`` is unusable.

        """
        ranking = self.rank(question, self.settings.answer_k if k is None else k, retriever=retriever)
        return compose(
            question.strip(),
            ranking,
            found=self.is_answer(ranking, retriever),
            weak=self._is_weak(ranking, retriever),
            label=self.manifest.corpus_label,
            checker=SourceChecker(self.corpus, self.manifest.files),
            score_sentences=self._score_sentences,
        )

    def is_answer(self, ranking: Ranking, retriever: RetrieverName | None = None) -> bool:
        """Whether a ranking holds an answer or the bot should abstain.

        Dense and hybrid retrieval abstain when the best cosine is under the model's
        calibrated threshold; lexical retrieval when no question term occurs at all.
        """
        if (retriever or self.settings.retriever) == "lexical":
            return bool(ranking.best_lexical)
        return ranking.best_cosine is not None and ranking.best_cosine >= self.settings.abstain_below

    def _is_weak(self, ranking: Ranking, retriever: RetrieverName | None) -> bool:
        """Whether the best cosine clears the threshold but not the confident level."""
        if (retriever or self.settings.retriever) == "lexical" or ranking.best_cosine is None:
            return False
        return ranking.best_cosine < self.settings.confident_above

    def _score_sentences(self, question: str, sentences: list[str]) -> np.ndarray:
        """How well each sentence answers: cosine with the question plus shared key words."""
        vectors = self.embedder().encode([question, *sentences])
        lexical = self._loaded.lexical
        terms = set(lexical.tokens(question))
        overlap = [len(terms & set(lexical.tokens(s))) / len(terms) if terms else 0.0 for s in sentences]
        scores: np.ndarray = vectors[1:] @ vectors[0] + _OVERLAP_WEIGHT * np.asarray(overlap)
        return scores


def _embedding_inputs(
    document: Document, passage: Passage, embedder: Embedder, settings: Settings
) -> tuple[list[tuple[int, int]], list[str]]:
    """The windows of a passage and the exact strings to embed for each."""
    prefix = context_prefix(document) if settings.context else ""
    # A lead sentence is not repeated in front of the paragraph it comes from.
    if prefix and document.lead and document.lead in " ".join(passage.text.split()):
        prefix = document.title
    budget = embedder.max_tokens - _SPECIAL_TOKENS
    if prefix:
        budget = max(_MIN_WINDOW, budget - embedder.count_tokens(prefix) - 1)
    windows = embedder.windows(passage.text, budget, settings.window_overlap)
    texts = [f"{prefix}\n{passage.text[s:e]}" if prefix else passage.text[s:e] for s, e in windows]
    return windows, texts


def _previous_vectors(folder: Path, model: str) -> dict[str, np.ndarray]:
    """Vectors of the index already in ``folder`` by embedded-text hash, if it is compatible."""
    try:
        previous = load(folder)
    except Exception:
        return {}
    # Vectors are keyed by the exact embedded text, so only the model must match.
    if previous.manifest.model != model:
        return {}
    matrix = previous.vectors.vectors()
    hashes = [h for stored in previous.passages for h in stored.embedded]
    return dict(zip(hashes, matrix, strict=True))


def build_from_documents(
    documents: list[Document],
    out: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    corpus: Path | None = None,
    label: str = "",
    files: dict[str, str] | None = None,
    skipped: tuple[tuple[str, str], ...] = (),
) -> Index:
    """Index ``documents`` into the folder ``out`` and return the loaded index.

    This is the core of :func:`build_index`; evaluation uses it directly for
    corpora that are not folders of files (BEIR).
    """
    started = time.perf_counter()
    settings = settings or Settings()
    model = embedder or SentenceTransformerEmbedder(settings.model)
    folder = Path(out)
    stored: list[StoredPassage] = []
    pending: list[str] = []
    lexical_texts: list[str] = []
    windowed = 0
    for document in documents:
        for passage in split_passages(document):
            windows, texts = _embedding_inputs(document, passage, model, settings)
            windowed += len(windows) > 1
            stored.append(StoredPassage(passage, tuple(windows), tuple(text_sha256(t) for t in texts)))
            pending.extend(texts)
            title = document.title if settings.lexical_title else ""
            lexical_texts.append(f"{title}\n{passage.text}" if title else passage.text)
    if not stored:
        raise CorpusError(f"no paragraphs to index in {corpus or 'the documents'}: the files hold no text")
    # Reuse vectors of unchanged text from the previous build; embed only the rest.
    reuse = _previous_vectors(folder, model.name)
    hashes = [h for s in stored for h in s.embedded]
    todo = sorted({h: i for i, h in enumerate(hashes) if h not in reuse}.values())
    fresh = model.encode([pending[i] for i in todo], batch_size=settings.batch_size, progress=progress)
    computed = {hashes[i]: fresh[j] for j, i in enumerate(todo)}
    matrix = np.zeros((len(hashes), model.dimension), dtype=np.float32)
    for row, digest in enumerate(hashes):
        matrix[row] = computed[digest] if digest in computed else reuse[digest]
    vectors = VectorIndex(model.dimension)
    vectors.add(matrix)
    lexical = LexicalIndex.build(lexical_texts)
    root = corpus.resolve() if corpus is not None else folder.resolve()
    file_hashes = files if files is not None else {d.source: d.sha256 for d in documents}
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=model.name,
        dimension=model.dimension,
        normalized=True,
        metric="inner_product",
        context=settings.context,
        lexical_title=settings.lexical_title,
        passage_count=len(stored),
        vector_count=len(hashes),
        corpus=os.path.relpath(root, folder.resolve()),
        corpus_label=label,
        fingerprint=fingerprint(file_hashes),
        files=file_hashes,
        skipped=dict(skipped),
        artifacts={},
    )
    written = save(folder, manifest, vectors, stored, lexical)
    report = BuildReport(
        files=len(documents),
        passages=len(stored),
        vectors=len(hashes),
        embedded=len(todo),
        reused=len(hashes) - len(todo),
        windowed=windowed,
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )
    loaded = Loaded(written, vectors, tuple(stored), lexical)
    return Index(folder, loaded, settings=settings.with_(model=model.name), embedder=model, report=report)


def build_index(
    corpus: str | os.PathLike[str] = "seeds",
    out: str | os.PathLike[str] = "embeddings",
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    label: str | None = None,
) -> Index:
    """Read the corpus folder, embed its paragraphs and write the index to ``out``.

    Unchanged paragraphs reuse the vectors of the index already in ``out``. The
    previous index stays readable until the new one is complete.

    Args:
        corpus: Folder of ``*.txt``/``*.md`` articles (read recursively).
        out: Index folder.
        settings: Model and retrieval settings.
        embedder: A model (or a function returning one) to use instead of ``settings.model``.
        progress: Show a progress bar while embedding.
        label: How citations name the corpus folder (defaults to ``corpus`` as given).

    Raises:
        CorpusError: The folder is missing or holds no readable text.
        ModelError: The embedding model cannot be loaded.

    """
    root = Path(corpus)
    found = read_corpus(root)
    files = scan_corpus(root)
    return build_from_documents(
        list(found.documents),
        out,
        settings=settings,
        embedder=embedder,
        progress=progress,
        corpus=root,
        label=label if label is not None else display_path(root),
        files=files,
        skipped=tuple((s.source, s.reason) for s in found.skipped),
    )


def load_index(
    folder: str | os.PathLike[str] = "embeddings",
    *,
    model: str | None = None,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
) -> Index:
    """Open an index built by :func:`build_index`.

    Args:
        folder: The index folder.
        model: The model the caller expects; an index built with another is refused.
        settings: Retrieval settings (the model and context come from the manifest).
        embedder: A model to use instead of loading the one named in the manifest.

    Raises:
        IndexNotFoundError: ``folder`` holds no index.
        IndexCorruptError: The index files are damaged or disagree.
        IndexMismatchError: The index was built with another model or format.

    """
    path = Path(folder)
    loaded = load(path)
    built_with = loaded.manifest.model
    wanted = canonical_model_name(model) if model else None
    if wanted is None and embedder is not None:
        wanted = embedder.name
    if wanted is not None and wanted != built_with:
        raise IndexMismatchError(
            f"the index in {path} was built with model {built_with!r}, not {wanted!r}; "
            f"rebuild it with `qa index --model {wanted}` or drop --model"
        )
    base = settings or Settings()
    # The model and the context setting are facts of the built index, not choices.
    resolved = base.with_(
        model=built_with, context=loaded.manifest.context, lexical_title=loaded.manifest.lexical_title
    )
    return Index(path, loaded, settings=resolved, embedder=embedder)


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
            check against instead of the one recorded in the manifest.
        model: Model the caller expects; a mismatch raises instead of silently rebuilding.
        settings: Retrieval settings.
        refresh: Rebuild when the corpus changed since the index was built.
        progress: Show progress bars while embedding.
        notify: Receives one-line messages about what is being done.

    Raises:
        IndexMismatchError: The index was built with another model.
        CorpusError: The corpus is missing or unreadable.

    """
    from .errors import IndexNotFoundError

    settings = settings or Settings()
    if model:
        settings = settings.with_(model=model)
    try:
        index = load_index(folder, model=model, settings=settings)
    except IndexNotFoundError:
        source = corpus if corpus is not None else "seeds"
        notify(f"No index in {folder} yet: building it from {source}/ ...")
        return build_index(source, folder, settings=settings, progress=progress)
    if corpus is not None and Path(corpus).resolve() != index.corpus:
        notify(f"The index in {folder} was built from {index.corpus}; rebuilding it from {corpus}/ ...")
        return build_index(corpus, folder, settings=index.settings, progress=progress)
    if refresh:
        changes = index.changes()
        if changes:
            notify(f"The articles changed since the last build ({changes.describe()}): updating the index ...")
            return index.refresh(progress=progress)
    return index
