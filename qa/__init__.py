"""Citation-first question answering over a folder of articles.

Importing this package loads no model, and nothing else either: each name below is imported
on first use (PEP 562), so that a process that needs one layer (a reader worker, the CLI's
no-op update) does not pay for the others. The layers, lowest first: ``text``, ``ingest``,
``embed``, ``build``, ``store``, ``search``, ``answer``; the faces ``index``, ``update`` and
``live`` over them; ``eval``, ``web`` and ``cli`` at the top (docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .answer.compose import Answer
    from .answer.quotes import Quote
    from .config import DEFAULT_MODEL, Settings
    from .errors import (
        CorpusError,
        EvalDataError,
        IndexAccessError,
        IndexBusyError,
        IndexCorruptError,
        IndexFormatError,
        IndexMismatchError,
        IndexNotFoundError,
        ModelError,
        QAError,
        QueryError,
        SettingsError,
    )
    from .index import BuildReport, CorpusChanges, Index, build_index, ensure_index, load_index
    from .ingest.corpus import read_corpus
    from .live import LiveIndex, LiveStatus
    from .search.hits import Hit
    from .text.passages import Document, Passage, split_passages

#: Where each public name lives.
_HOMES = {
    "Answer": ".answer.compose",
    "Quote": ".answer.quotes",
    "DEFAULT_MODEL": ".config",
    "Settings": ".config",
    **dict.fromkeys(
        (
            "CorpusError",
            "EvalDataError",
            "IndexAccessError",
            "IndexBusyError",
            "IndexCorruptError",
            "IndexFormatError",
            "IndexMismatchError",
            "IndexNotFoundError",
            "ModelError",
            "QAError",
            "QueryError",
            "SettingsError",
        ),
        ".errors",
    ),
    **dict.fromkeys(("BuildReport", "CorpusChanges", "Index", "build_index", "ensure_index", "load_index"), ".index"),
    "read_corpus": ".ingest.corpus",
    "LiveIndex": ".live",
    "LiveStatus": ".live",
    "Hit": ".search.hits",
    **dict.fromkeys(("Document", "Passage", "split_passages"), ".text.passages"),
}

__all__ = [
    "DEFAULT_MODEL",
    "Answer",
    "BuildReport",
    "CorpusChanges",
    "CorpusError",
    "Document",
    "EvalDataError",
    "Hit",
    "Index",
    "IndexAccessError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexFormatError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "LiveIndex",
    "LiveStatus",
    "ModelError",
    "Passage",
    "QAError",
    "QueryError",
    "Quote",
    "Settings",
    "SettingsError",
    "build_index",
    "ensure_index",
    "load_index",
    "read_corpus",
    "split_passages",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    # Kept, so that the next use is a plain attribute.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, with the module's own."""
    return sorted({*_HOMES, "__version__"})
