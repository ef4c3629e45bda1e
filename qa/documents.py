"""Reading articles from a corpus folder and splitting them into cited paragraphs."""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

#: File name endings read from a corpus folder, whatever their case (one reader each: :mod:`qa.readers`).
CORPUS_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")

#: The kinds of file read, for messages.
FORMATS = "text, Markdown, HTML, PDF or Word (.docx)"

#: Document formats people keep articles in that are not read: skipped with what to do,
#: rather than passed over in silence (other files, images included, are not articles).
UNSUPPORTED_DOCUMENTS = {
    ".doc": "Word 97-2003 documents (.doc) are not read: save it as .docx",
    ".odt": "OpenDocument text (.odt) is not read: save it as .docx or PDF",
    ".rtf": "RTF is not read: save it as .docx or PDF",
    ".epub": "EPUB books are not read",
    ".pages": "Pages documents are not read: export it as .docx or PDF",
}

#: A block line longer than this is taken as a whole paragraph, not a hard-wrapped line.
LONG_LINE = 120

#: Bytes inspected for NUL characters when deciding whether a file is binary.
_BINARY_PROBE = 8192

#: Largest file indexed, in megabytes (of 1024 * 1024 bytes), unless :data:`MAX_FILE_ENV` says otherwise.
MAX_FILE_MB = 10.0

#: Environment variable that overrides :data:`MAX_FILE_MB`; read each time a corpus folder is scanned.
MAX_FILE_ENV = "QA_MAX_FILE_MB"

_MB = 1024 * 1024

#: Skip reasons shared by the folder scan and the read that follows it.
LINK_OUTSIDE = "link to a file outside the corpus"
FOLDER_LINK_OUTSIDE = "link to a folder outside the corpus"
FOLDER_LINK_LOOP = "link loop: the link points to a folder that contains it"
FOLDER_LINK_INSIDE = "link to a folder inside the corpus; its files are indexed under their own names"
LINK_LOOP = "link loop: the link never reaches a file"
BROKEN_LINK = "broken link: its target does not exist"
BAD_NAME = "file name is not valid UTF-8"
CHANGED_WHILE_READ = "the file changed while it was read"

#: A line break: CRLF, a bare CR (old Mac files) or LF.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>[^\r\n]+?)\s*#*\s*$")
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
        text: Exactly ``file_text[start_char:end_char]``, where ``file_text`` is the file's own
            text for plain text and Markdown, and its reader's extracted text for HTML, PDF and
            Word files (lines are counted in that text too).
        sha256: Hex SHA-256 of ``text`` encoded as UTF-8.
        page: The PDF page the paragraph starts on (``None`` for other formats).
        end_page: The PDF page it ends on.
        page_paragraph: Its number among the paragraphs seen on its first PDF page.
        section: The heading it sits under (Markdown, HTML, PDF, Word; ``None`` for plain text).

    """

    source: str
    paragraph: int
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    text: str
    sha256: str
    page: int | None = None
    end_page: int | None = None
    page_paragraph: int | None = None
    section: str | None = None

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

    @property
    def place(self) -> str:
        """Where the paragraph is in its file, for a citation after the file's name.

        ``¶3 (line 3)`` in plain text; ``¶5 (line 9), section “Funding”`` under a heading;
        ``p. 4 ¶2`` or ``pp. 4–5 ¶6`` in a PDF, counting paragraphs on the page.
        """
        if self.page is not None:
            last = self.end_page if self.end_page is not None else self.page
            pages = f"p. {self.page}" if last == self.page else f"pp. {self.page}–{last}"
            return f"{pages} ¶{self.page_paragraph or self.paragraph}"
        place = f"¶{self.paragraph} ({self.lines})"
        return f"{place}, section “{self.section}”" if self.section else place


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
class CorpusEntry:
    r"""A path in a corpus folder that looks like an article: to read, or skipped with a reason.

    Attributes:
        source: Name relative to the corpus folder, with forward slashes; always valid UTF-8
            (other bytes are shown as ``\xNN`` escapes, and the entry is skipped).
        path: Where the entry is, under the corpus folder as given (links not resolved).
        skipped: Why the entry is not read, or ``None`` when it is read.

    """

    source: str
    path: Path
    skipped: str | None = None


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


#: The most any size limit can be: larger settings mean "no limit" and are read as this.
_MAX_BYTES = 2**40


def max_file_mb() -> float:
    """The largest file indexed, in megabytes: ``$QA_MAX_FILE_MB`` if set, else :data:`MAX_FILE_MB`.

    Raises:
        CorpusError: The variable is set but is not a positive number.

    """
    value = os.environ.get(MAX_FILE_ENV, "").strip()
    if not value:
        return MAX_FILE_MB
    try:
        megabytes = float(value)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise CorpusError(f"{MAX_FILE_ENV} must be a positive number of megabytes, not {value!r}")
    return megabytes


def _limit_bytes(limit_mb: float) -> int:
    """The size limit in bytes (at most a terabyte, whatever the setting says)."""
    return int(min(limit_mb * _MB, float(_MAX_BYTES)))


def too_large(size: int, limit_mb: float) -> str:
    """The skip reason of a file of ``size`` bytes over the ``limit_mb`` limit."""
    if size >= _MB // 10:
        shown = f"{size / _MB:.1f} MB"
    elif size >= 1024:
        shown = f"{size / 1024:.1f} KB"
    else:
        shown = f"{size} bytes"
    return f"{shown} is over the {limit_mb:g} MB limit; set {MAX_FILE_ENV} to index it"


def _kind(mode: int) -> str:
    """Name the kind of a file that is not a regular file, for a skip reason."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "an unknown kind of file")


def _is_article_name(name: str) -> bool:
    """Whether a file name ends in one of :data:`CORPUS_SUFFIXES` (in any case: ``Report.PDF`` too)."""
    return name.lower().endswith(CORPUS_SUFFIXES)


def _unsupported(source: str, path: Path) -> CorpusEntry | None:
    """A skipped entry for a document format that is not read (see :data:`UNSUPPORTED_DOCUMENTS`), else ``None``."""
    reason = UNSUPPORTED_DOCUMENTS.get(path.suffix.lower())
    return CorpusEntry(source, path, reason) if reason else None


def _display_name(relative: str) -> tuple[str, bool]:
    """``relative`` as text that can be stored and printed, and whether it was valid UTF-8."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        # Undecodable bytes arrive as lone surrogates; show them as \xNN escapes instead.
        return os.fsencode(relative).decode("utf-8", "backslashreplace"), False
    return relative, True


def _inside(path: str, real_root: str) -> bool:
    """Whether the resolved ``path`` is ``real_root`` or lies under it."""
    return path == real_root or path.startswith(real_root.rstrip(os.sep) + os.sep)


def corpus_entry(root: Path, path: Path, *, limit_mb: float | None = None) -> CorpusEntry | None:
    """Decide about one path under ``root``: read it, skip it with a reason, or ``None`` if it is no article.

    This is the one place the rules live (``scan_corpus`` applies it to every entry):

    * regular files with a :data:`CORPUS_SUFFIXES` ending are read, unless over the size limit (:func:`max_file_mb`)
      or their name is not valid UTF-8;
    * FIFOs, sockets and devices with such names are skipped (only ``lstat``/``stat``: never opened);
    * a link to a file inside the corpus is read as a file of its own name (the duplicate
      collapse shows it once, "also in" the other name); a link to a file outside the corpus,
      a broken link and a link loop are skipped;
    * a link to a folder is never followed: outside the corpus, back to a folder that contains
      it, or inside (whose files are indexed under their own names), it is skipped and reported.

    A real folder gives ``None``: the scan walks into it.
    """
    relative = path.relative_to(root).as_posix()
    source, valid_name = _display_name(relative)
    limit = max_file_mb() if limit_mb is None else limit_mb
    try:
        status = os.lstat(path)
    except OSError:
        # Gone since the folder was listed.
        return None
    if stat.S_ISDIR(status.st_mode):
        return None
    if stat.S_ISLNK(status.st_mode):
        try:
            status = os.stat(path)
        except OSError as exc:
            if not _is_article_name(path.name):
                return None
            if exc.errno == errno.ELOOP:
                return CorpusEntry(source, path, LINK_LOOP)
            if exc.errno == errno.ENOENT:
                return CorpusEntry(source, path, BROKEN_LINK)
            return CorpusEntry(source, path, f"link cannot be followed: {exc.strerror or exc}")
        real_root = os.path.realpath(root)
        target = os.path.realpath(path)
        if stat.S_ISDIR(status.st_mode):
            if not _inside(target, real_root):
                return CorpusEntry(source, path, FOLDER_LINK_OUTSIDE)
            if _inside(os.path.realpath(path.parent), target):
                return CorpusEntry(source, path, FOLDER_LINK_LOOP)
            return CorpusEntry(source, path, FOLDER_LINK_INSIDE)
        if not _is_article_name(path.name):
            return _unsupported(source, path)
        if not _inside(target, real_root):
            return CorpusEntry(source, path, LINK_OUTSIDE)
    elif not _is_article_name(path.name):
        return _unsupported(source, path)
    if not valid_name:
        return CorpusEntry(source, path, BAD_NAME)
    if not stat.S_ISREG(status.st_mode):
        return CorpusEntry(source, path, f"not a regular file: {_kind(status.st_mode)}")
    if status.st_size > _limit_bytes(limit):
        return CorpusEntry(source, path, too_large(status.st_size, limit))
    return CorpusEntry(source, path)


def scan_corpus(root: Path) -> list[CorpusEntry]:
    """Every article-like entry under ``root``, sorted by name, each to read or skipped (see :func:`corpus_entry`).

    Hidden files and folders (``.git``, ``.ipynb_checkpoints``) are left out; links to folders
    are never walked into, so the walk always ends. A subfolder that cannot be listed is
    reported as skipped; a corpus folder that cannot be listed gives no entries.
    """
    limit = max_file_mb()
    entries: list[CorpusEntry] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                # ``is_dir(follow_symlinks=False)``: real folders only; links to folders are judged below.
                items = [(item.name, item.is_dir(follow_symlinks=False)) for item in listing]
        except OSError as exc:
            if folder != root:
                source, _ = _display_name(folder.relative_to(root).as_posix())
                entries.append(CorpusEntry(source, folder, f"folder cannot be read: {exc.strerror or exc}"))
            continue
        for name, is_folder in items:
            # Hidden folders (.git, .ipynb_checkpoints) and files are not articles.
            if name.startswith("."):
                continue
            if is_folder:
                folders.append(folder / name)
            elif (entry := corpus_entry(root, folder / name, limit_mb=limit)) is not None:
                entries.append(entry)
    return sorted(entries, key=lambda entry: entry.source)


def corpus_files(root: Path) -> list[Path]:
    """List the corpus files under ``root`` that are read, sorted (skipped entries: :func:`scan_corpus`)."""
    return [entry.path for entry in scan_corpus(root) if entry.skipped is None]


def read_entry(root: Path, entry: CorpusEntry) -> bytes:
    """Read the bytes of a corpus entry, checking again, on the open file, what the scan checked.

    A FIFO swapped in since the scan is not waited on, a link re-pointed outside the corpus is
    not read, and no more than the size limit (plus one byte) is ever read.

    Raises:
        CorpusError: The entry is skipped; the message is the reason.
        OSError: The file cannot be read.

    """
    if entry.skipped is not None:
        raise CorpusError(entry.skipped)
    limit = max_file_mb()
    real_root = os.path.realpath(root)
    target = os.path.realpath(entry.path)
    if not _inside(target, real_root):
        raise CorpusError(LINK_OUTSIDE)
    # Non-blocking: opening a FIFO then returns at once instead of waiting for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(entry.path, flags), "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise CorpusError(f"not a regular file: {_kind(status.st_mode)}")
        # The file opened must lie inside the corpus, whatever was swapped in since the
        # check above (a link, a folder renamed for a link): ask the system where it is.
        opened = _opened_path(file.fileno())
        if opened is not None and not _inside(opened, real_root):
            raise CorpusError(LINK_OUTSIDE)
        resolved = os.lstat(target)
        if (resolved.st_dev, resolved.st_ino) != (status.st_dev, status.st_ino):
            raise CorpusError(CHANGED_WHILE_READ)
        budget = _limit_bytes(limit)
        if status.st_size > budget:
            raise CorpusError(too_large(status.st_size, limit))
        # One byte more than the file says it has: a file still growing shows as changed.
        raw = file.read(status.st_size + 1)
    if len(raw) > budget:
        raise CorpusError(too_large(max(status.st_size, len(raw)), limit))
    if len(raw) > status.st_size:
        raise CorpusError(CHANGED_WHILE_READ)
    return raw


def _opened_path(descriptor: int) -> str | None:
    """Where the file open on ``descriptor`` really is (Linux ``/proc``), or ``None`` if unknown."""
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return None


def source_name(root: Path, path: Path) -> str:
    """Return the corpus-relative name of ``path`` with forward slashes."""
    return path.relative_to(root).as_posix()


def read_corpus(root: str | Path) -> Corpus:
    """Read every article under ``root`` (text, Markdown, HTML, PDF, Word) with its reader.

    Unreadable, binary, oversized and hostile entries (see :func:`corpus_entry`), and files
    their reader cannot parse, are skipped and listed in ``Corpus.skipped`` rather than
    failing the whole build.

    Raises:
        CorpusError: ``root`` is not a folder or holds no readable file.

    """
    folder = Path(root)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    # The readers build on this module, so they are imported when first needed.
    from .readers import read_file

    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for entry in scan_corpus(folder):
        try:
            documents.append(read_file(folder, entry.source, entry).document)
        except CorpusError as exc:
            skipped.append(SkippedFile(entry.source, str(exc)))
        except OSError as exc:
            skipped.append(SkippedFile(entry.source, str(exc.strerror or exc)))
    if not documents:
        detail = f" ({len(skipped)} unreadable)" if skipped else ""
        raise CorpusError(f"no readable {FORMATS} files in {folder}{detail}")
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


def line_breaks(text: str, start: int = 0, end: int | None = None) -> int:
    """Count the line breaks in ``text[start:end]``: CRLF, bare CR and LF each count once."""
    stop = len(text) if end is None else end
    # A CRLF is one CR and one LF: count both, then take the pairs off once.
    return text.count("\n", start, stop) + text.count("\r", start, stop) - text.count("\r\n", start, stop)


def _lines(text: str) -> Iterable[tuple[int, int]]:
    """Yield ``(start, end)`` of each line, without its line terminator (CRLF, CR or LF)."""
    start = 0
    for match in _LINE_BREAK.finditer(text):
        yield start, match.start()
        start = match.end()
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
    # Count line breaks only since the previous paragraph: linear in the file's length. Paragraphs
    # start and end on non-space characters, so no CRLF is ever split between two counts.
    line, counted = 1, 0
    for number, (start, end) in enumerate(paragraph_spans(text), start=1):
        chunk = text[start:end]
        line += line_breaks(text, counted, start)
        counted = start
        start_line = line
        end_line = start_line + line_breaks(chunk)
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
