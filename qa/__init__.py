"""Citation-first question answering over a folder of articles.

Importing this package loads no model; the model loads on the first search. The layers,
lowest first: ``text``, ``ingest``, ``embed``, ``build``, ``store``, ``search``, ``answer``;
the faces ``index``, ``update`` and ``live`` over them; ``eval``, ``web`` and ``cli`` at the
top (docs/architecture.md).
"""

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
