"""Readers of the file formats a corpus may hold, behind one interface.

Indexing, the quote check and the source pane all read a file through :func:`read_file`:
the same checks on the open file (:func:`qa.documents.read_entry`), the same reader, the
same text. What a reader extracts is kept per file name and hash of its bytes, so a file
read again unchanged is not parsed again, and a changed file never gets the text of its
old version.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..documents import CorpusEntry, Document, Passage, first_sentence, line_breaks, read_entry, text_sha256
from .base import Block, Extracted, Reader, Run, UnreadableError
from .html import HtmlReader
from .markdown import MarkdownReader
from .pdf import PdfReader
from .text import TextReader
from .word import WordReader

__all__ = [
    "READERS",
    "SUFFIXES",
    "Block",
    "Extracted",
    "ReadFile",
    "Reader",
    "Run",
    "UnreadableError",
    "extract",
    "load",
    "passages_of",
    "read_file",
    "reader_for",
]

#: Every reader, one per kind of file.
READERS: tuple[Reader, ...] = (TextReader(), MarkdownReader(), HtmlReader(), PdfReader(), WordReader())

#: File name endings read from a corpus folder (matched without regard to case).
SUFFIXES: tuple[str, ...] = tuple(suffix for reader in READERS for suffix in reader.suffixes)

#: Extractions kept in memory, by file name and hash (the most recently used) ...
_CACHE_SIZE = 64
#: ... as long as all of them together weigh no more than this many characters (see :func:`_weight`).
CACHE_CHARACTERS = 32_000_000
#: What one paragraph or run weighs in the cache, in characters (about what it takes in memory).
_ITEM_WEIGHT = 150
_cache: OrderedDict[tuple[str, str], tuple[Extracted, int]] = OrderedDict()
_cache_weight = 0
_cache_lock = threading.Lock()


def reader_for(source: str) -> Reader | None:
    """The reader of a file name, by its ending (``None``: not an article)."""
    name = source.rsplit("/", 1)[-1].lower()
    return next((r for r in READERS if name.endswith(r.suffixes)), None)


def extract(source: str, raw: bytes, *, sha256: str | None = None) -> Extracted:
    """What the reader of ``source`` makes of ``raw``, parsed once per file name and hash.

    The name is part of the key: a title can come from it.

    Raises:
        UnreadableError: No reader reads such files, or this file cannot be read; the message says why.

    """
    reader = reader_for(source)
    if reader is None:
        raise UnreadableError("not a kind of file that is read")
    key = (source, sha256 or hashlib.sha256(raw).hexdigest())
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key][0]
    extracted = reader.read(raw, source)
    _remember(key, extracted)
    return extracted


def _weight(extracted: Extracted) -> int:
    """What an extraction weighs in the cache: its characters, and its paragraphs and runs."""
    return len(extracted.text) + len(extracted.title) + _ITEM_WEIGHT * (len(extracted.blocks) + len(extracted.runs))


def _remember(key: tuple[str, str], extracted: Extracted) -> None:
    """Keep an extraction; the least recently used go while over :data:`CACHE_CHARACTERS` or :data:`_CACHE_SIZE`."""
    global _cache_weight
    weight = _weight(extracted)
    with _cache_lock:
        if key in _cache:
            _cache_weight -= _cache.pop(key)[1]
        # One that alone weighs more than the whole cache is not kept.
        if weight > CACHE_CHARACTERS:
            return
        _cache[key] = (extracted, weight)
        _cache_weight += weight
        while len(_cache) > _CACHE_SIZE or _cache_weight > CACHE_CHARACTERS:
            _cache_weight -= _cache.popitem(last=False)[1][1]


def passages_of(source: str, extracted: Extracted) -> list[Passage]:
    """The extracted paragraphs as :class:`Passage` objects, with lines counted in the extracted text."""
    text = extracted.text
    passages: list[Passage] = []
    # Line breaks are counted only since the previous paragraph: linear in the text's length.
    line, counted = 1, 0
    for number, block in enumerate(extracted.blocks, start=1):
        chunk = text[block.start : block.end]
        line += line_breaks(text, counted, block.start)
        counted = block.start
        passages.append(
            Passage(
                source=source,
                paragraph=number,
                start_line=line,
                end_line=line + line_breaks(chunk),
                start_char=block.start,
                end_char=block.end,
                text=chunk,
                sha256=text_sha256(chunk),
                page=block.page,
                end_page=block.end_page,
                page_paragraph=block.page_paragraph,
                section=block.section,
            )
        )
    return passages


@dataclass(frozen=True)
class ReadFile:
    """A corpus file as read now: the hash of its bytes, what its reader made of them, its paragraphs."""

    source: str
    sha256: str
    extracted: Extracted
    passages: tuple[Passage, ...]

    @property
    def text(self) -> str:
        """The text citations count in (see :attr:`Extracted.text`)."""
        return self.extracted.text

    @property
    def document(self) -> Document:
        """The file as a :class:`Document`: its text, title and lead sentence."""
        lead = first_sentence(self.passages[0].text) if self.passages else ""
        return Document(self.source, self.extracted.text, self.extracted.title, lead, self.sha256)


def load(source: str, raw: bytes, *, sha256: str | None = None) -> ReadFile:
    """Read the bytes of file ``source`` with its reader (``sha256``: their hash, if known).

    Raises:
        UnreadableError: The file cannot be read; the message says why.

    """
    digest = sha256 or hashlib.sha256(raw).hexdigest()
    extracted = extract(source, raw, sha256=digest)
    return ReadFile(source, digest, extracted, tuple(passages_of(source, extracted)))


def read_file(root: Path, source: str, entry: CorpusEntry | None = None) -> ReadFile:
    """Read corpus file ``source`` under ``root`` with the checks of indexing, then with its reader.

    Raises:
        CorpusError: The file is skipped or cannot be read as its kind (:class:`UnreadableError`).
        OSError: The file cannot be read.

    """
    raw = read_entry(root, entry or CorpusEntry(source, root / source))
    return load(source, raw)
