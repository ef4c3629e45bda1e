"""A whole corpus folder read at once: every article as a :class:`~qa.text.passages.Document`, and what was skipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import MAX_FILE_MB, Settings
from ..errors import CorpusError
from ..text.passages import Document
from .files import read_file
from .scan import FORMATS, scan_corpus


@dataclass(frozen=True)
class SkippedFile:
    """A corpus file that could not be read, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    """The readable documents of a corpus folder and the files that were skipped."""

    root: Path
    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...]


def read_corpus(root: str | Path, *, max_file_mb: float = MAX_FILE_MB) -> Corpus:
    """Read every article under ``root`` (text, Markdown, HTML, PDF, Word) with its reader.

    Each document carries its paragraphs as the index cites them (``qa.split_passages``).
    Unreadable, binary, oversized and hostile entries, and files their reader cannot
    parse, are skipped and listed in ``Corpus.skipped`` rather than failing the whole read.

    Raises:
        CorpusError: ``root`` is not a folder or holds no readable file.
        SettingsError: ``max_file_mb`` is not a positive number.

    """
    # Checked as a setting is: a positive, finite number of megabytes.
    max_file_mb = Settings(max_file_mb=max_file_mb).max_file_mb
    folder = Path(root)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for entry in scan_corpus(folder, limit_mb=max_file_mb):
        try:
            documents.append(read_file(folder, entry.source, entry, limit_mb=max_file_mb).document)
        except CorpusError as exc:
            skipped.append(SkippedFile(entry.source, str(exc)))
        except OSError as exc:
            skipped.append(SkippedFile(entry.source, str(exc.strerror or exc)))
    if not documents:
        detail = f" ({len(skipped)} unreadable)" if skipped else ""
        raise CorpusError(f"no readable {FORMATS} files in {folder}{detail}")
    return Corpus(folder, tuple(documents), tuple(skipped))
