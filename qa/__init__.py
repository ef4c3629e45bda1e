"""Citation-first question answering over a folder of articles.

Importing this package loads no model; the model loads on the first search.
"""

from .answers import Answer, Quote
from .config import DEFAULT_MODEL, Settings
from .documents import Document, Passage, read_corpus, split_passages
from .errors import (
    CorpusError,
    EvalDataError,
    IndexAccessError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelError,
    QAError,
    QueryError,
    SettingsError,
    StaleIndexError,
)
from .index import BuildReport, CorpusChanges, Index, build_index, ensure_index, load_index
from .live import LiveIndex, LiveStatus
from .retrieval import Hit

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
    "StaleIndexError",
    "build_index",
    "ensure_index",
    "load_index",
    "read_corpus",
    "split_passages",
]

__version__ = "0.1.0"
