"""Word documents (``.docx``): paragraphs, headings and tables, read with python-docx."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from ...config import MAX_FILE_MB
from ...text.passages import Block
from .base import Extracted, UnreadableError, join_blocks
from .bounds import MAX_PARAGRAPHS

#: Most bytes a Word document may unpack to, as a multiple of its size on disk (a zip bomb stops here).
MAX_EXPANSION = 100
#: ... but at least this many bytes.
MIN_UNPACKED = 64 * 1024 * 1024
#: ... and never more than this many times the largest file indexed (``Settings.max_file_mb``).
MAX_UNPACKED_FACTOR = 10
#: ... nor ever more than this many bytes, whatever the largest file is.
MAX_UNPACKED = 256 * 1024 * 1024

#: The part of a ``.docx`` that holds its text.
_BODY = "word/document.xml"
#: A paragraph's opening tag, as it is counted in the unparsed body.
_PARAGRAPH_TAG = re.compile(rb"<w:p[\s>/]")


def unpacked_limit(size: int, limit_mb: float = MAX_FILE_MB) -> int:
    """Most bytes a Word document of ``size`` bytes may unpack to, where files of ``limit_mb`` are indexed."""
    ceiling = min(MAX_UNPACKED, int(MAX_UNPACKED_FACTOR * min(limit_mb, float(MAX_UNPACKED)) * 2**20))
    return min(max(MIN_UNPACKED, MAX_EXPANSION * size), ceiling)


def _check_zip(raw: bytes, limit_mb: float) -> None:
    """Refuse a file that is not a Word document's zip, or too big a one, before anything is parsed.

    Too big: it unpacks to more than :func:`unpacked_limit`, or its body has more than
    :data:`MAX_PARAGRAPHS` paragraphs.

    Raises:
        UnreadableError: Not a zip file (an old ``.doc``, an encrypted document), a zip bomb, or too many paragraphs.

    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
            limit = unpacked_limit(len(raw), limit_mb)
            if unpacked > limit:
                raise UnreadableError(
                    f"not a readable Word document (it unpacks to {unpacked / 2**20:.0f} MB,"
                    f" more than the {limit / 2**20:.0f} MB read)"
                )
            paragraphs = _count_paragraphs(archive) if _BODY in archive.namelist() else 0
    except UnreadableError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        raise UnreadableError(
            "not a readable Word document (not a .docx zip file: damaged, encrypted or an old .doc)"
        ) from None
    if paragraphs > MAX_PARAGRAPHS:
        raise UnreadableError(f"not a readable Word document (more than {MAX_PARAGRAPHS:,} paragraphs)")


def _count_paragraphs(archive: zipfile.ZipFile) -> int:
    """Paragraph tags in the body, counted as it is unpacked (stopping just past :data:`MAX_PARAGRAPHS`)."""
    count, tail = 0, b""
    with archive.open(_BODY) as body:
        while chunk := body.read(1 << 20):
            # A tag cut by the chunk's end (its last 4 bytes at most) is counted with the next chunk.
            data = tail + chunk
            count += len(_PARAGRAPH_TAG.findall(data))
            tail = data[-4:]
            if count > MAX_PARAGRAPHS:
                break
    return count


def _style_names(document: Any) -> tuple[dict[str, str], str]:
    """The names of a document's paragraph styles by id, and the name of its default one.

    Read once per document: python-docx's ``paragraph.style`` looks through every style for each paragraph.
    """
    from docx.enum.style import WD_STYLE_TYPE

    names: dict[str, str] = {}
    default = ""
    for style in document.styles:
        try:
            if style.type != WD_STYLE_TYPE.PARAGRAPH:
                continue
            name = str(style.name or "")
            if style.style_id:
                names.setdefault(str(style.style_id), name)
            if style.element.default and not default:
                default = name
        except (AttributeError, KeyError, ValueError):
            continue
    return names, default


def _style(paragraph: Any, names: dict[str, str], default: str) -> str:
    """The name of a paragraph's style (``""`` if it has none), from its ``w:pPr/w:pStyle/@w:val``."""
    try:
        style_id = paragraph._p.style
    except (AttributeError, KeyError, ValueError):
        return ""
    if style_id is None:
        return default
    # An id the document does not define is its default style, as in python-docx.
    return names.get(str(style_id), default)


class WordReader:
    """``*.docx``: each paragraph one paragraph; "Title" and "Heading N" styles give title and sections."""

    kind: str = "docx"
    suffixes: tuple[str, ...] = (".docx",)

    def read(self, raw: bytes, source: str, *, limit_mb: float = MAX_FILE_MB) -> Extracted:
        """The document's text in body order, headings as lines of their own.

        Raises:
            UnreadableError: The file is not a Word document python-docx can open, or holds no text.

        """
        _check_zip(raw, limit_mb)
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        try:
            document = docx.Document(io.BytesIO(raw))
            title = " ".join(str(document.core_properties.title or "").split())
            pieces: list[tuple[str, bool, Block]] = []
            section: str | None = None
            names, default = _style_names(document)
            for item in document.iter_inner_content():
                if isinstance(item, Table):
                    rows = [" | ".join(" ".join(cell.text.split()) for cell in row.cells) for row in item.rows]
                    text = "\n".join(row for row in rows if row.strip(" |"))
                    if text:
                        pieces.append((text, True, Block(0, 0, section=section)))
                    continue
                if not isinstance(item, Paragraph):
                    continue
                if len(pieces) >= MAX_PARAGRAPHS:
                    raise UnreadableError(f"not a readable Word document (more than {MAX_PARAGRAPHS:,} paragraphs)")
                text = " ".join(item.text.split())
                if not text:
                    continue
                style = _style(item, names, default)
                if style == "Title" or (style.startswith("Heading") and not title and not pieces):
                    title = title or text
                    pieces.append((text, False, Block(0, 0)))
                elif style.startswith("Heading"):
                    section = text
                    pieces.append((text, False, Block(0, 0)))
                else:
                    pieces.append((text, True, Block(0, 0, section=section)))
        except (UnreadableError, MemoryError):
            # A reason of its own, or over the reader's memory limit (the sandbox says so).
            raise
        except Exception as exc:
            # python-docx raises many kinds of errors on damaged parts; all mean "cannot read".
            raise UnreadableError(f"not a readable Word document ({type(exc).__name__})") from None
        text, blocks = join_blocks(pieces)
        if not blocks:
            raise UnreadableError("no text in the Word document")
        return Extracted(self.kind, text, title, blocks)
