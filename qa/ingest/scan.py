"""The corpus folder: which entries are articles, which are skipped and why, and reading them safely.

Every rule about what may be read lives here (links, FIFOs, devices, sizes, names), applied
to the folder listing and again to the open file when it is read.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..config import MAX_FILE_MB
from ..errors import CorpusError
from .readers import SUFFIXES

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

_MB = 1024 * 1024
#: The most any size limit can be: larger settings mean "no limit" and are read as this.
_MAX_BYTES = 2**40

#: Skip reasons shared by the folder scan and the read that follows it.
LINK_OUTSIDE = "link to a file outside the corpus"
FOLDER_LINK_OUTSIDE = "link to a folder outside the corpus"
FOLDER_LINK_LOOP = "link loop: the link points to a folder that contains it"
FOLDER_LINK_INSIDE = "link to a folder inside the corpus; its files are indexed under their own names"
LINK_LOOP = "link loop: the link never reaches a file"
BROKEN_LINK = "broken link: its target does not exist"
BAD_NAME = "file name is not valid UTF-8"
CHANGED_WHILE_READ = "the file changed while it was read"


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


def limit_bytes(limit_mb: float) -> int:
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
    return f"{shown} is over the {limit_mb:g} MB limit; raise QA_MAX_FILE_MB (Settings.max_file_mb) to index it"


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


def is_article_name(name: str) -> bool:
    """Whether a file name ends in one of the readers' endings (in any case: ``Report.PDF`` too)."""
    return name.lower().endswith(SUFFIXES)


def _unsupported(source: str, path: Path) -> CorpusEntry | None:
    """A skipped entry for a document format that is not read (see :data:`UNSUPPORTED_DOCUMENTS`), else ``None``."""
    reason = UNSUPPORTED_DOCUMENTS.get(path.suffix.lower())
    return CorpusEntry(source, path, reason) if reason else None


def display_name(relative: str) -> tuple[str, bool]:
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


def corpus_entry(root: Path, path: Path, *, limit_mb: float = MAX_FILE_MB) -> CorpusEntry | None:
    """Decide about one path under ``root``: read it, skip it with a reason, or ``None`` if it is no article.

    This is the one place the rules live (``scan_corpus`` applies it to every entry):

    * regular files with a reader's ending are read, unless over ``limit_mb`` megabytes or
      their name is not valid UTF-8;
    * FIFOs, sockets and devices with such names are skipped (only ``lstat``/``stat``: never opened);
    * a link to a file inside the corpus is read as a file of its own name (the duplicate
      collapse shows it once, "also in" the other name); a link to a file outside the corpus,
      a broken link and a link loop are skipped;
    * a link to a folder is never followed: outside the corpus, back to a folder that contains
      it, or inside (whose files are indexed under their own names), it is skipped and reported.

    A real folder gives ``None``: the scan walks into it.
    """
    relative = path.relative_to(root).as_posix()
    source, valid_name = display_name(relative)
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
            if not is_article_name(path.name):
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
        if not is_article_name(path.name):
            return _unsupported(source, path)
        if not _inside(target, real_root):
            return CorpusEntry(source, path, LINK_OUTSIDE)
    elif not is_article_name(path.name):
        return _unsupported(source, path)
    if not valid_name:
        return CorpusEntry(source, path, BAD_NAME)
    if not stat.S_ISREG(status.st_mode):
        return CorpusEntry(source, path, f"not a regular file: {_kind(status.st_mode)}")
    if status.st_size > limit_bytes(limit_mb):
        return CorpusEntry(source, path, too_large(status.st_size, limit_mb))
    return CorpusEntry(source, path)


def scan_corpus(root: Path, *, limit_mb: float = MAX_FILE_MB) -> list[CorpusEntry]:
    """Every article-like entry under ``root``, sorted by name, each to read or skipped (see :func:`corpus_entry`).

    Hidden files and folders (``.git``, ``.ipynb_checkpoints``) are left out; links to folders
    are never walked into, so the walk always ends. A subfolder that cannot be listed is
    reported as skipped; a corpus folder that cannot be listed gives no entries.
    """
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
                source, _ = display_name(folder.relative_to(root).as_posix())
                entries.append(CorpusEntry(source, folder, f"folder cannot be read: {exc.strerror or exc}"))
            continue
        for name, is_folder in items:
            # Hidden folders (.git, .ipynb_checkpoints) and files are not articles.
            if name.startswith("."):
                continue
            if is_folder:
                folders.append(folder / name)
            elif (entry := corpus_entry(root, folder / name, limit_mb=limit_mb)) is not None:
                entries.append(entry)
    return sorted(entries, key=lambda entry: entry.source)


def read_entry(root: Path, entry: CorpusEntry, *, limit_mb: float = MAX_FILE_MB) -> bytes:
    """Read the bytes of a corpus entry, checking again, on the open file, what the scan checked.

    A FIFO swapped in since the scan is not waited on, a link re-pointed outside the corpus is
    not read, and no more than the size limit (plus one byte) is ever read.

    Raises:
        CorpusError: The entry is skipped; the message is the reason.
        OSError: The file cannot be read.

    """
    if entry.skipped is not None:
        raise CorpusError(entry.skipped)
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
        budget = limit_bytes(limit_mb)
        if status.st_size > budget:
            raise CorpusError(too_large(status.st_size, limit_mb))
        # One byte more than the file says it has: a file still growing shows as changed.
        raw = file.read(status.st_size + 1)
    if len(raw) > budget:
        raise CorpusError(too_large(max(status.st_size, len(raw)), limit_mb))
    if len(raw) > status.st_size:
        raise CorpusError(CHANGED_WHILE_READ)
    return raw


def _opened_path(descriptor: int) -> str | None:
    """Where the file open on ``descriptor`` really is (Linux ``/proc``), or ``None`` if unknown."""
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return None
