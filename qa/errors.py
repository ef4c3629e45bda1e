"""The exceptions of the qa package; the CLI and the web app turn them into messages."""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error this package raises on purpose."""


class CorpusError(QAError):
    """The corpus folder is missing, empty or holds no readable text."""


class IndexNotFoundError(QAError):
    """No built index exists at the given folder."""


class IndexCorruptError(QAError):
    """The index files exist but cannot be read or do not agree with each other."""


class IndexMismatchError(QAError):
    """The index was built with another model or format than the one asked for."""


class StaleIndexError(QAError):
    """The corpus changed since the index was built."""


class QueryError(QAError):
    """The question cannot be answered as given (empty, too long, bad parameters)."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class EvalDataError(QAError):
    """An evaluation file is missing or malformed."""


class IndexBusyError(QAError):
    """Another process is updating the index and the caller chose not to wait."""


class IndexAccessError(QAError):
    """The index folder cannot be read or written now (locked, read-only, disk full); nothing was lost."""
