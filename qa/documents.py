"""Reading articles from a corpus folder and splitting them into cited paragraphs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

#: File name patterns read from a corpus folder.
CORPUS_PATTERNS = ("*.txt", "*.md")

#: A block line longer than this is taken as a whole paragraph, not a hard-wrapped line.
LONG_LINE = 120

#: Bytes inspected for NUL characters when deciding whether a file is binary.
_BINARY_PROBE = 8192

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?P<close>[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")
#: Words that end in a full stop without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "jr",
        "sr",
        "mt",
        "no",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "rev",
        "fig",
        "al",
        "inc",
        "ltd",
        "co",
        "corp",
    ]
)
_LAST_WORD = re.compile(r"([\w.]+)\.[\"'”’)\]]*$")


@dataclass(frozen=True)
class Passage:
    """One paragraph of one file, with everything needed to cite and re-check it.

    Attributes:
        source: Path of the file relative to the corpus folder, with forward slashes.
        paragraph: 1-based number of the paragraph within its file.
        start_line: 1-based line where the paragraph starts.
        end_line: 1-based line where the paragraph ends (inclusive).
        start_char: Offset of the first character in the file's text.
        end_char: Offset just past the last character in the file's text.
        text: Exactly ``file_text[start_char:end_char]``.
        sha256: Hex SHA-256 of ``text`` encoded as UTF-8.

    """

    source: str
    paragraph: int
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    text: str
    sha256: str

    @property
    def key(self) -> str:
        """The ``FILE#PARAGRAPH`` key used by evaluation files."""
        return f"{self.source}#{self.paragraph}"

    @property
    def lines(self) -> str:
        """Human-readable line range, e.g. ``line 4`` or ``lines 4-7``."""
        if self.start_line == self.end_line:
            return f"line {self.start_line}"
        return f"lines {self.start_line}-{self.end_line}"


@dataclass(frozen=True)
class Document:
    """One article: its source name, full text and context for embedding.

    Attributes:
        source: Path relative to the corpus folder (or an external id).
        text: The file's text (see :func:`decode_text`).
        title: A heading or title if the document has one, else ``""``.
        lead: The document's first sentence, used as context for its paragraphs.
        sha256: Hex SHA-256 of the raw bytes (or of the text for external documents).

    """

    source: str
    text: str
    title: str
    lead: str
    sha256: str


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


def text_sha256(text: str) -> str:
    """Return the hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode_text(raw: bytes) -> str:
    """Decode a file's bytes into the text that offsets refer to.

    The text is UTF-8 with a leading byte-order mark removed; line endings are
    kept exactly as in the file, so ``text[start_char:end_char]`` is verbatim.

    Raises:
        UnicodeDecodeError: The bytes are not UTF-8.
        ValueError: The bytes look binary (they contain NUL bytes).

    """
    if b"\x00" in raw[:_BINARY_PROBE]:
        raise ValueError("binary file (contains NUL bytes)")
    return raw.decode("utf-8-sig")


def corpus_files(root: Path) -> list[Path]:
    """List the corpus files under ``root`` recursively, sorted, hidden paths left out."""
    found: set[Path] = set()
    for pattern in CORPUS_PATTERNS:
        for path in root.rglob(pattern):
            relative = path.relative_to(root)
            # Hidden folders (.git, .ipynb_checkpoints) and files are not articles.
            if any(part.startswith(".") for part in relative.parts):
                continue
            if path.is_file():
                found.add(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def source_name(root: Path, path: Path) -> str:
    """Return the corpus-relative name of ``path`` with forward slashes."""
    return path.relative_to(root).as_posix()


def read_corpus(root: str | Path) -> Corpus:
    """Read every ``*.txt`` and ``*.md`` file under ``root``.

    Unreadable and binary files are skipped and listed in ``Corpus.skipped``
    rather than failing the whole build.

    Raises:
        CorpusError: ``root`` is not a folder or holds no readable file.

    """
    folder = Path(root)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for path in corpus_files(folder):
        name = source_name(folder, path)
        try:
            raw = path.read_bytes()
            text = decode_text(raw)
        except UnicodeDecodeError:
            skipped.append(SkippedFile(name, "not UTF-8 text"))
            continue
        except (OSError, ValueError) as exc:
            skipped.append(SkippedFile(name, str(exc)))
            continue
        documents.append(make_document(name, text, sha256=hashlib.sha256(raw).hexdigest()))
    if not documents:
        detail = f" ({len(skipped)} unreadable)" if skipped else ""
        raise CorpusError(f"no readable .txt or .md files in {folder}{detail}")
    return Corpus(folder, tuple(documents), tuple(skipped))


def make_document(source: str, text: str, *, title: str = "", sha256: str | None = None) -> Document:
    """Build a :class:`Document`, deriving its title and lead sentence from the text."""
    spans = paragraph_spans(text)
    first = text[spans[0][0] : spans[0][1]] if spans else ""
    heading = _HEADING.match(first)
    if not title and heading:
        title = heading.group("title")
    if not title:
        title = title_from_name(source)
    body = [text[s:e] for s, e in spans if not _HEADING.match(text[s:e])]
    lead = first_sentence(body[0]) if body else ""
    return Document(source, text, title, lead, sha256 or text_sha256(text))


def title_from_name(source: str) -> str:
    """A title from a file name made of words (``Super_Bowl_50.txt``), or ``""`` for ids.

    Names such as ``000_3ff9e896d4582ee2.txt`` carry no meaning and give no title.
    """
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = re.split(r"[_\-\s]+", stem)
    meaningful = [w for w in words if len(w) >= 3 and w.isalpha()]
    if not meaningful or any(w and not w.isalpha() and not w.isdigit() for w in words):
        return ""
    return " ".join(w for w in words if w)


def first_sentence(text: str) -> str:
    """Return the first sentence of ``text`` (all of it if no sentence end is found)."""
    spans = sentence_spans(text)
    start, end = spans[0] if spans else (0, len(text))
    return " ".join(text[start:end].split())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences, as ``(start, end)`` offsets without outer whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        # "Dr. Amina" or "J. Smith" is not a sentence end.
        end = match.start() + len(match.group("close"))
        word = _LAST_WORD.search(text, start, end)
        if word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1):
            continue
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Move ``start`` and ``end`` inwards past whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str) -> Iterable[tuple[int, int]]:
    """Yield ``(start, end)`` of each line, without its line terminator."""
    start = 0
    while (end := text.find("\n", start)) != -1:
        yield start, end
        start = end + 1
    yield start, len(text)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Find the paragraphs of ``text`` as ``(start_char, end_char)`` offsets.

    Blocks are separated by blank lines. A block whose lines are long (any line
    but the last over :data:`LONG_LINE` characters) holds one paragraph per line,
    as in files written with one paragraph per line; otherwise the block is a
    single hard-wrapped paragraph. Offsets exclude surrounding whitespace.
    """
    blocks: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for start, end in _lines(text):
        if text[start:end].strip():
            current.append((start, end))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    spans: list[tuple[int, int]] = []
    for block in blocks:
        per_line = len(block) > 1 and any(len(text[s:e].strip()) > LONG_LINE for s, e in block[:-1])
        groups = [[line] for line in block] if per_line else [block]
        for group in groups:
            spans.append(_trim(text, group[0][0], group[-1][1]))
    return spans


def split_passages(document: Document) -> list[Passage]:
    """Split a document into :class:`Passage` objects with line and character offsets."""
    text = document.text
    passages: list[Passage] = []
    # Count newlines only since the previous paragraph: linear in the file's length.
    line, counted = 1, 0
    for number, (start, end) in enumerate(paragraph_spans(text), start=1):
        chunk = text[start:end]
        line += text.count("\n", counted, start)
        counted = start
        start_line = line
        end_line = start_line + chunk.count("\n")
        passages.append(
            Passage(
                source=document.source,
                paragraph=number,
                start_line=start_line,
                end_line=end_line,
                start_char=start,
                end_char=end,
                text=chunk,
                sha256=text_sha256(chunk),
            )
        )
    return passages
