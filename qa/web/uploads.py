"""Files a person adds from the chat page, put into the corpus folder safely, and files taken out into a trash.

No web framework here. A file is checked as the indexer would read it, written under a name the scan
skips, synced, then linked under its final name: the live index never sees half a file, nothing is overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import secrets
import shutil
import stat
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import MappingProxyType

from ..config import MAX_FILE_MB
from ..errors import CorpusError, QueryError
from ..ingest.readers import SUFFIXES, UnreadableError, extract
from ..ingest.scan import UNSUPPORTED_DOCUMENTS, is_article_name, limit_bytes, too_large

#: Folder inside the corpus that receives uploads.
UPLOADS = "uploads"
#: Folder inside the index folder that receives removed files.
TRASH = "trash"
#: Files one upload may hold, by default.
MAX_FILES = 20

#: Characters reserved on common file systems (Windows, macOS, Linux).
_RESERVED = frozenset('<>:"|?*/\\')
#: Bidirectional controls: they make ``report\u202efdp.exe`` show as ``reportexe.pdf``.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAX_TRIES = 1000  # names tried for one file: name.ext, name (2).ext ... name (1000).ext
_NOTHING: Mapping[str, str] = MappingProxyType({})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_ENDING = re.compile(r"\.[^.\s]{1,16}$")
_LEADING = re.compile(r"^[\s.]+")
_TRAILING = re.compile(r"[\s.]+$")


@dataclass(frozen=True)
class UploadLimits:
    """How much one upload may hold: megabytes per file (the corpus's own limit) and files per upload."""

    max_file_mb: float = MAX_FILE_MB
    max_files: int = MAX_FILES


DEFAULT_LIMITS = UploadLimits()


@dataclass(frozen=True)
class Added:
    """What became of one file of an upload.

    Attributes:
        name: The name the person gave, as received (for messages: escape it before showing it).
        source: Where the file now is, relative to the corpus folder (``uploads/report.pdf``);
            for a duplicate, the file that already holds these bytes; ``""`` if refused.
        outcome: ``added``, ``duplicate`` or ``refused``.
        reason: Why it was refused, or which file it duplicates; ``""`` when added.

    """

    name: str
    source: str
    outcome: str
    reason: str = ""


def _split(name: str) -> tuple[str, str]:
    """``(stem, ending)`` of a name; an ending is a final ``.xxx`` of 1 to 16 characters, no spaces or dots."""
    found = _ENDING.search(name)
    return (name[: found.start()], found.group()) if found else (name, "")


def _names(name: str) -> Iterator[str]:
    """``name``, then ``name (2)``, ``name (3)``... (each within 255 bytes): the names tried for a new file."""
    stem, suffix = _split(name)
    yield name
    for number in range(2, _MAX_TRIES + 1):
        yield _fit(stem, f" ({number}){suffix}")


def _fit(stem: str, tail: str) -> str:
    """``stem + tail`` within 255 UTF-8 bytes (the longest name common file systems take), the stem cut if need be."""
    room = 255 - len(tail.encode("utf-8"))
    # Decoding the cut bytes with "ignore" drops a character split in two, never a whole one.
    return stem.encode("utf-8")[: max(room, 0)].decode("utf-8", "ignore") + tail


def safe_name(name: str) -> str:
    r"""A file name that is safe to create in the corpus and that the corpus scan reads.

    No path parts (the last component after ``/`` or ``\\``), no control or bidi characters,
    Unicode NFC, no leading dots or spaces (a hidden file is skipped by the scan), no trailing
    dots or spaces, ``_`` for characters reserved on common file systems, at most 255 UTF-8
    bytes with the ending kept. Never empty, ``.`` or ``..``: ``upload`` stands for a lost stem.
    The name keeps its case (``Report.PDF`` stays so; endings match in any case).
    """
    last = re.split(r"[/\\]", name)[-1]
    # Controls, bidi marks and lone surrogates dropped, reserved characters "_"; then NFC (not before: a
    # control between a letter and its accent would keep them apart).
    kept = "".join("_" if c in _RESERVED else c for c in last if unicodedata.category(c) not in ("Cc", "Cs"))
    cleaned = unicodedata.normalize("NFC", "".join(c for c in kept if c not in _BIDI))
    stem, suffix = _split(_TRAILING.sub("", cleaned))
    # A hidden name (".txt", "..notes.md") loses its leading dots, never its ending.
    stem = _LEADING.sub("", stem) or "upload"
    fitted = _fit(stem, suffix)
    # Cutting may leave trailing spaces or dots at the end of a name without an ending.
    return fitted if suffix else (_TRAILING.sub("", fitted) or "upload")


def _content_mismatch(suffix: str, raw: bytes) -> str:
    """Why ``raw`` is not what its ending says, or ``""``."""
    if suffix == ".pdf":
        # PDF readers accept the header anywhere in the first kilobyte, as Acrobat does.
        return "" if b"%PDF-" in raw[:1024] else "not a PDF: the file does not start with %PDF-"
    if suffix == ".docx":
        return "" if zipfile.is_zipfile(io.BytesIO(raw)) else "not a Word document: a .docx file is a zip archive"
    if b"\0" in raw:
        return "not a text file: it contains NUL bytes"
    # HTML may declare another encoding (its reader finds it); text and Markdown are read as UTF-8.
    if suffix in (".txt", ".md"):
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return "not UTF-8 text"
    return ""


def check_upload(name: str, raw: bytes, limits: UploadLimits = DEFAULT_LIMITS) -> str:
    """``""`` if the file may be added, else why not (in words for the person).

    Its ending, size and bytes are checked, then its reader's verdict (encrypted PDF, no text layer, zip bomb...).
    """
    safe = safe_name(name)
    suffix = _split(safe)[1].lower()
    if not is_article_name(safe):
        known = UNSUPPORTED_DOCUMENTS.get(suffix, f"{suffix or 'a name without an ending'} is not read")
        return f"unsupported type: {known}; the corpus reads {', '.join(SUFFIXES)}"
    if len(raw) > limit_bytes(limits.max_file_mb):
        # The corpus's advice (raise QA_MAX_FILE_MB) is for the one who runs the server, not for the page.
        return "too large: " + too_large(len(raw), limits.max_file_mb).split(";")[0] + " per file of this server"
    if mismatch := _content_mismatch(suffix, raw):
        return mismatch
    try:
        extracted = extract(safe, raw, limit_mb=limits.max_file_mb)
    except UnreadableError as exc:
        return str(exc)
    return "" if extracted.blocks else "no text to index"


def _inside(path: str, root: str) -> bool:
    """Whether the resolved ``path`` is ``root`` or lies under it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _upload_folder(corpus: Path, folder: str) -> Path:
    """``corpus/folder`` (``""``: the corpus), created if missing, after checking it lies inside and is not hidden."""
    parts = PurePosixPath(folder).parts if folder else ()
    # safe_name changes "..", "/", hidden and odd names.
    if any(part != safe_name(part) for part in parts):
        raise QueryError(f"the upload folder must be a plain relative path inside the corpus, not {folder!r}")
    if not corpus.is_dir():
        raise CorpusError(f"the corpus folder {corpus} does not exist or is not a folder")
    target, real = corpus.joinpath(*parts), os.path.join(os.path.realpath(corpus), *parts)
    # No link on the way, checked before creating (a link to a folder outside) and after (one swapped in since):
    # a link inside the corpus would give the files other names in the index than the ones returned.
    if os.path.realpath(target) == real:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CorpusError(f"cannot create the upload folder {target}: {exc.strerror or exc}") from None
    if os.path.realpath(target) != real:
        raise CorpusError(f"the upload folder {target} is a link or lies behind one; it must be a real folder")
    return target


def _same_bytes(path: Path, raw: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) holding exactly ``raw``."""
    # Non-blocking: a FIFO under that name is not waited on.
    with contextlib.suppress(OSError), open(os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK), "rb") as file:
        status = os.fstat(file.fileno())
        return stat.S_ISREG(status.st_mode) and status.st_size == len(raw) and file.read(len(raw) + 1) == raw
    return False


def _place(corpus: Path, folder: Path, name: str, raw: bytes) -> tuple[str, bool]:
    """Write ``raw`` as ``folder/name`` or the first free ``name (n)``: ``(source, new?)``; same bytes: not new."""
    # Written and synced first under a hidden name that the corpus scan skips (and no article ending).
    temporary = folder / f".upload-{secrets.token_hex(8)}.part"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    try:
        with open(fd, "wb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        for candidate in _names(name):
            final = folder / candidate
            source = final.relative_to(corpus).as_posix()
            try:
                # A hard link appears whole under its name, and fails if the name is taken.
                os.link(temporary, final)
            except FileExistsError:
                if _same_bytes(final, raw):
                    return source, False
                continue
            return source, True
        raise CorpusError(f"no free name for {name} in {folder}: {_MAX_TRIES} files share it")
    finally:
        temporary.unlink(missing_ok=True)


def add_files(
    corpus: Path,
    files: Sequence[tuple[str, bytes]],
    *,
    limits: UploadLimits = DEFAULT_LIMITS,
    known: Mapping[str, str] = _NOTHING,
    folder: str = UPLOADS,
) -> list[Added]:
    """Add ``(name, bytes)`` files into ``corpus/folder``: one :class:`Added` per file, in order.

    ``known`` maps the SHA-256 (hex) of each corpus file to its source: a file with the same
    bytes is reported as a duplicate, as is a repeat within the upload.

    Raises:
        QueryError: More than ``limits.max_files`` files (nothing is written), or a bad ``folder``.
        CorpusError: The upload folder leads outside the corpus. (A file that cannot be written
            is refused with the reason; no temporary file is left.)

    """
    if len(files) > limits.max_files:
        raise QueryError(f"{len(files)} files is more than the {limits.max_files} one upload may add")
    target = _upload_folder(corpus, folder)
    seen = dict(known)
    added: list[Added] = []
    for name, raw in files:
        if reason := check_upload(name, raw, limits):
            added.append(Added(name, "", "refused", reason))
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            added.append(Added(name, seen[digest], "duplicate", f"already in the corpus as {seen[digest]}"))
            continue
        try:
            source, new = _place(corpus, target, safe_name(name), raw)
        except (OSError, CorpusError) as exc:
            # One file that cannot be written (a full disk) is refused; the others are still told.
            reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
            added.append(Added(name, "", "refused", f"cannot be saved in {target.name}/: {reason}"))
            continue
        seen[digest] = source
        reason = "" if new else f"already in the corpus as {source}"
        added.append(Added(name, source, "added" if new else "duplicate", reason))
    return added


def _checked_source(corpus: Path, source: str) -> Path:
    """``corpus/source`` after checking that ``source`` names a visible file inside the corpus."""
    # Read both ways, so that neither "/x" nor "C:\\x" nor "..\\x" gets through; hidden files are no articles.
    flavours = (PurePosixPath(source), PureWindowsPath(source))
    if not source or "\0" in source or any(p.anchor or any(n.startswith(".") for n in p.parts) for p in flavours):
        raise QueryError(f"not a file of the corpus: {source!r}")
    path = corpus / source
    root = os.path.realpath(corpus)
    # The folder holding it and the file it leads to (through any link) must both be inside the corpus.
    if not _inside(os.path.realpath(path.parent), root) or not _inside(os.path.realpath(path), root):
        raise QueryError(f"{source} leads outside the corpus folder")
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise CorpusError(f"{source} is not in the corpus folder {corpus} (or is a broken link)") from None
    except OSError as exc:
        raise CorpusError(f"cannot look at {source} in {corpus}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(status.st_mode):
        raise QueryError(f"{source} is not a regular file")
    return path


def _trash_folder(corpus: Path, index_folder: Path) -> Path:
    """``index_folder/trash``, created if missing; never where the corpus scan would read it back."""
    trash = index_folder / TRASH
    inside = Path(os.path.relpath(os.path.realpath(trash), os.path.realpath(corpus))).parts
    # The scan reads every folder of the corpus but hidden ones.
    if inside[:1] != ("..",) and not any(part.startswith(".") for part in inside):
        raise CorpusError(f"the trash {trash} lies in the corpus folder {corpus}: removed files would be indexed again")
    try:
        trash.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the trash folder {trash}: {exc.strerror or exc}") from None
    return trash


def _reserve(trash: Path, name: str) -> Path:
    """Create an empty, new file for ``name`` in ``trash`` (``name (2)`` ... if taken), so nothing is overwritten."""
    for candidate in _names(name):
        try:
            os.close(os.open(trash / candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644))
        except FileExistsError:
            continue
        except OSError as exc:
            raise CorpusError(f"cannot write in the trash folder {trash}: {exc.strerror or exc}") from None
        return trash / candidate
    raise CorpusError(f"no free name for {name} in {trash}")


def remove_file(corpus: Path, index_folder: Path, source: str) -> Path:
    """Move corpus file ``source`` into ``index_folder/trash/<UTC time>-<name>`` and return where it now is.

    Raises:
        QueryError: ``source`` is not a relative path to a regular file inside the corpus.
        CorpusError: The file is missing, or it cannot be moved.

    """
    path = _checked_source(corpus, source)
    trash = _trash_folder(corpus, index_folder)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    place = _reserve(trash, safe_name(f"{stamp}-{safe_name(path.name)}"))
    try:
        _move(path, place)
    except OSError as exc:
        place.unlink(missing_ok=True)
        raise CorpusError(f"cannot move {source} into {trash}: {exc.strerror or exc}") from None
    return place


def _move(path: Path, place: Path) -> None:
    """Move ``path`` over the empty file ``place``: renamed on one file system, else copied, synced, then removed."""
    # A link's own name leaves the corpus; the trash keeps the text it led to.
    if not os.path.islink(path):
        try:
            os.replace(path, place)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    with open(path, "rb") as original, open(place, "wb") as copy:
        shutil.copyfileobj(original, copy)
        copy.flush()
        os.fsync(copy.fileno())
    os.unlink(path)
