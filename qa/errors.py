"""The exceptions of the qa package; the CLI and the web app turn them into messages."""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error this package raises on purpose."""


class CorpusError(QAError):
    """The corpus folder is missing, empty or holds no readable text."""


class IndexNotFoundError(QAError):
    """No built index exists at the given folder."""


class IndexCorruptError(QAError):
    """The index files exist but cannot be read or do not agree with each other.

    Attributes:
        part: Which part is damaged, in words without paths (``database``, ``vector
            file``, ``keyword index``): what a remote caller is told.

    """

    def __init__(self, message: str, *, part: str = "index") -> None:
        """The error ``message`` (for the log and the terminal), about ``part``."""
        super().__init__(message)
        self.part = part


class IndexMismatchError(QAError):
    """The index was built with another model or format than the one asked for."""


class IndexFormatError(IndexMismatchError):
    """The index folder was written in an older format; building it again (``qa index``) replaces it."""


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


class SettingsError(QAError):
    """A setting is out of range or of the wrong type; the message names it and what it accepts."""


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that a message never echoes a long input."""
    try:
        text = repr(value)
    except Exception:
        # A repr may fail (an int past Python's digit limit, a broken object): name the type instead.
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"
