"""Quotes checked against the files: a hit as shown, verified verbatim where it says, or found again where it moved.

:func:`place_in` is the one rule for where a quoted paragraph is now (the quote check and
the source pane use it); :func:`locate` and :func:`nearest` find a paragraph again by its
text or its hash (feedback finds voted paragraphs with :func:`nearest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import MAX_FILE_MB
from ..errors import QAError
from ..ingest.files import ReadFile, read_file
from ..search.hits import Hit
from ..text.passages import Passage
from ..text.titles import readable_title

Span = tuple[int, int]


@dataclass(frozen=True)
class Quote(Hit):
    """A hit shown to the person: the verbatim paragraph plus the sentences that answer.

    Attributes:
        highlights: ``(start, end)`` character ranges within ``text`` that best answer
            the question, best first.
        relocated: The file changed since indexing but this exact paragraph was found
            again; the citation points to where it is now.
        title: The article's title (its first heading, a short first line, or the start
            of its first sentence), for people; ``source`` stays the file path.
        file_sha256: SHA-256 of the file's bytes when the quote was checked, so that a
            later reader can tell whether the file changed since.

    """

    highlights: tuple[Span, ...] = ()
    relocated: bool = False
    title: str = ""
    file_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The quote as plain JSON-ready data."""
        return {
            "source": self.source,
            "paragraph": self.paragraph,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "text": self.text,
            "page": self.passage.page,
            "end_page": self.passage.end_page,
            "section": self.passage.section,
            "score": round(self.score, 6),
            "citation": self.citation,
            "title": self.title,
            "passage_sha256": self.passage.sha256,
            "highlights": [list(span) for span in self.highlights],
            "also_in": list(self.also_in),
        }


def nearest(sha256: str, paragraph: int, current: Sequence[Passage]) -> Passage | None:
    """The paragraph of ``current`` whose text hashes to ``sha256``, nearest number ``paragraph`` (``None``: none)."""
    matches = [c for c in current if c.sha256 == sha256]
    if not matches:
        return None
    return min(matches, key=lambda c: (abs(c.paragraph - paragraph), c.paragraph))


def locate(passage: Passage, current: Sequence[Passage]) -> Passage | None:
    """Where ``passage`` is among its file's ``current`` paragraphs: the same text, nearest its old number.

    Returns ``None`` when the text is in none of them (gone or edited).
    """
    same = [c for c in current if c.text == passage.text]
    return nearest(passage.sha256, passage.paragraph, same)


def place_in(passage: Passage, read: ReadFile, indexed: str | None) -> Passage | None:
    """Where ``passage`` is in its file as read now: where it says, or where its text went, or ``None``.

    Its offsets are trusted only when the file's bytes are those ``indexed`` (their hash) and
    its text is there; otherwise it is looked for by its text among the file's paragraphs
    (:func:`locate`), so that text that moved to other lines is cited where it is now.
    """
    if read.text[passage.start_char : passage.end_char] == passage.text and indexed == read.sha256:
        return passage
    return locate(passage, read.passages)


def title_of(read: ReadFile) -> str:
    """A title people can read for a file as read: its reader's title, else one from its text or name."""
    return readable_title(read.source, read.text, read.extracted.title)


class SourceChecker:
    """Checks quotes against the files on disk, re-locating paragraphs that moved."""

    def __init__(self, root: Path, indexed: dict[str, str] | None = None, *, limit_mb: float = MAX_FILE_MB) -> None:
        """Check files under the corpus folder ``root``.

        Args:
            root: The corpus folder.
            indexed: SHA-256 of each file's bytes when it was indexed; a file whose hash
                still matches is known to be unchanged.
            limit_mb: The largest file read (as when indexing).

        """
        self._root = root
        self._indexed = indexed or {}
        self._limit_mb = limit_mb
        self._files: dict[str, ReadFile | None] = {}

    def _read(self, source: str) -> ReadFile | None:
        """The file as its reader reads it now, or ``None`` if gone, unreadable or hostile.

        Read with the checks of indexing (:func:`qa.ingest.files.read_file`): a file swapped since
        for a link out of the corpus, a FIFO, something too large or a file its reader can no
        longer parse counts as gone.
        """
        if source not in self._files:
            try:
                self._files[source] = read_file(self._root, source, limit_mb=self._limit_mb)
            except (OSError, ValueError, QAError):
                self._files[source] = None
        return self._files[source]

    @property
    def root(self) -> Path:
        """The corpus folder checked."""
        return self._root

    @property
    def corpus_gone(self) -> bool:
        """Whether the corpus folder itself is not there (moved or deleted): no quote can be checked."""
        return not self._root.is_dir()

    def title(self, source: str) -> str:
        """The article's title as the file reads now (``""`` if it cannot be read)."""
        found = self._read(source)
        return title_of(found) if found else ""

    def digest(self, source: str) -> str:
        """SHA-256 of the file's current bytes (``""`` if it cannot be read)."""
        found = self._read(source)
        return found.sha256 if found else ""

    def current(self, passage: Passage) -> Passage | None:
        """Return the passage as it is on disk now.

        A passage is confirmed only when the file's current text at its offsets is its
        text and the file's bytes are those indexed; a matching file hash alone is not
        trusted (the stored passage could have been altered).

        Returns:
            ``passage`` itself if it is verbatim where it says; the paragraph as found in
            a changed file (same text, possibly new paragraph number, lines or offsets);
            ``None`` if the text is gone.

        """
        found = self._read(passage.source)
        return None if found is None else place_in(passage, found, self._indexed.get(passage.source))
