"""Running the writer for a program: the folders checked, the model loaded, what was done reported.

:func:`update_index` is what ``qa index`` runs: it opens no index state afterwards (no
snapshot, no checksum), so an update with nothing to do costs a folder listing and a look
at the database. :mod:`qa.index` builds on it and opens the new state.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .build.backend import BuildBackend
from .config import Settings
from .embed.deferred import DeferredEmbedder
from .embed.embedder import Embedder
from .embed.loader import gpu_present
from .embed.loader import load_embedder as _load
from .errors import CorpusError, IndexAccessError, SettingsError, shown
from .ingest.sources import DocumentSource, FolderSource, Source
from .store.runs import BuildOptions, BuildReport, UpdateHooks, UpdateProgress
from .store.writer import IndexWriter
from .text.passages import Document


def display_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def load_embedder(model: str) -> Embedder:
    """The embedding model ``model`` (a name or a local folder), loaded now (what builds and answers use).

    Without PyTorch once the model's ONNX export is cached (:mod:`qa.embed.loader`);
    questions are always embedded this way, on the CPU.

    Its :attr:`~qa.embed.embedder.Embedder.name` is ``canonical_model_name(model)``: an update
    compares that with the index's before loading anything (:mod:`qa.embed.deferred`).
    """
    return _load(model)


def build_embedder(model: str) -> Embedder:
    """The model an update embeds with: on a GPU where there is one, else :func:`load_embedder`'s.

    ``load_embedder`` is looked up when called, so that a program (or a test) may replace it.
    """
    if gpu_present():
        return _load(model, gpu=True)
    return load_embedder(model)


def check_settings(settings: object) -> Settings:
    """``settings``, or the defaults for ``None``; anything else is refused."""
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise SettingsError(f"settings must be a qa.Settings, not {type(settings).__name__}")
    return settings


def index_folder(out: object) -> Path:
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


def corpus_folder(corpus: object) -> Path:
    """``corpus`` as a folder of articles that exists.

    Raises:
        CorpusError: It is not a path, is a file, or does not exist.

    """
    if not isinstance(corpus, str | os.PathLike) or not os.fspath(corpus):
        raise CorpusError(f"the corpus must be a folder path, not {shown(corpus)}")
    root = Path(corpus)
    if root.exists() and not root.is_dir():
        raise CorpusError(f"the corpus {root} is a file, not a folder of articles")
    if not root.is_dir():
        raise CorpusError(f"corpus folder not found: {root}")
    return root


def _writer(
    source: Source,
    folder: Path,
    *,
    settings: Settings,
    embedder: Embedder,
    corpus: Path,
    label: str,
    options: BuildOptions,
) -> IndexWriter:
    """The writer of ``source`` into ``folder``, recording where the corpus is from there."""
    relative = os.path.relpath(corpus.resolve(), folder.resolve())
    return IndexWriter(
        folder, source, settings=settings, embedder=embedder, corpus=relative, label=label, options=options
    )


def build_options(
    *,
    progress: bool,
    wait: bool,
    verify: bool,
    notify: Callable[[str], None],
    on_progress: Callable[[UpdateProgress], None],
    on_commit: Callable[[int], None],
    backend: BuildBackend | None,
) -> BuildOptions:
    """The keyword arguments of :func:`build_index` as the writer takes them."""
    hooks = UpdateHooks(notify=notify, on_progress=on_progress, on_commit=on_commit)
    return BuildOptions(wait=wait, verify=verify, progress_bar=progress, backend=backend, hooks=hooks)


def ignore(_value: object) -> None:
    """A hook that does nothing."""


def update_index(
    corpus: str | os.PathLike[str] = "seeds",
    out: str | os.PathLike[str] = "embeddings",
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    label: str | None = None,
    options: BuildOptions = BuildOptions(),
) -> BuildReport:
    """Bring the index in ``out`` up to date with the corpus folder and say what was done, without opening it.

    What ``qa index`` runs: an update with nothing to do reads no more than the folder
    listing and the database's file table (and, with ``options.verify``, whatever changed
    since it was last verified). Arguments as in :func:`build_index`.
    """
    root = corpus_folder(corpus)
    settings = check_settings(settings)
    folder = index_folder(out)
    # Loaded only if something must be embedded: an update with nothing to do needs no model.
    model = embedder or DeferredEmbedder(settings.model, build_embedder)
    source = FolderSource(root, limit_mb=settings.max_file_mb)
    name = label if label is not None else display_path(root)
    writer = _writer(source, folder, settings=settings, embedder=model, corpus=root, label=name, options=options)
    return writer.update()


def update_documents(
    documents: list[Document],
    out: str | os.PathLike[str],
    *,
    settings: Settings,
    embedder: Embedder,
    label: str,
    options: BuildOptions = BuildOptions(),
) -> BuildReport:
    """Bring the index in ``out`` up to date with ``documents`` (not files: BEIR corpora).

    Raises:
        CorpusError: There are no documents.

    """
    if not documents:
        raise CorpusError("no documents to index")
    folder = index_folder(out)
    writer = _writer(
        DocumentSource(documents),
        folder,
        settings=settings,
        embedder=embedder,
        corpus=folder,
        label=label,
        options=options,
    )
    return writer.update()
