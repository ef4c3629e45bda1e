"""Word documents (``.docx``): paragraphs, headings and tables, read with python-docx."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from .base import Block, Extracted, UnreadableError, join_blocks

#: Most bytes a Word document may unpack to, as a multiple of its size on disk (a zip bomb stops here).
MAX_EXPANSION = 100
#: ... but at least this many bytes.
MIN_UNPACKED = 64 * 1024 * 1024


def _check_zip(raw: bytes) -> None:
    """Refuse what is not a zip file, and zips that unpack to far more than a document would.

    Raises:
        UnreadableError: Not a zip file (an old ``.doc``, an encrypted document), or a zip bomb.

    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnreadableError(
            "not a readable Word document (not a .docx zip file: damaged, encrypted or an old .doc)"
        ) from None
    if unpacked > max(MIN_UNPACKED, MAX_EXPANSION * len(raw)):
        raise UnreadableError(f"not a readable Word document (it unpacks to {unpacked / 2**20:.0f} MB)")


def _style(paragraph: Any) -> str:
    """The name of a paragraph's style (``""`` if it has none)."""
    try:
        return str(paragraph.style.name or "")
    except (AttributeError, KeyError, ValueError):
        return ""


class WordReader:
    """``*.docx``: each paragraph one paragraph; "Title" and "Heading N" styles give title and sections."""

    kind: str = "docx"
    suffixes: tuple[str, ...] = (".docx",)

    def read(self, raw: bytes, source: str) -> Extracted:
        """The document's text in body order, headings as lines of their own.

        Raises:
            UnreadableError: The file is not a Word document python-docx can open, or holds no text.

        """
        _check_zip(raw)
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        try:
            document = docx.Document(io.BytesIO(raw))
            title = " ".join(str(document.core_properties.title or "").split())
            pieces: list[tuple[str, bool, Block]] = []
            section: str | None = None
            for item in document.iter_inner_content():
                if isinstance(item, Table):
                    rows = [" | ".join(" ".join(cell.text.split()) for cell in row.cells) for row in item.rows]
                    text = "\n".join(row for row in rows if row.strip(" |"))
                    if text:
                        pieces.append((text, True, Block(0, 0, section=section)))
                    continue
                if not isinstance(item, Paragraph):
                    continue
                text = " ".join(item.text.split())
                if not text:
                    continue
                style = _style(item)
                if style == "Title" or (style.startswith("Heading") and not title and not pieces):
                    title = title or text
                    pieces.append((text, False, Block(0, 0)))
                elif style.startswith("Heading"):
                    section = text
                    pieces.append((text, False, Block(0, 0)))
                else:
                    pieces.append((text, True, Block(0, 0, section=section)))
        except UnreadableError:
            raise
        except Exception as exc:
            # python-docx raises many kinds of errors on damaged parts; all mean "cannot read".
            raise UnreadableError(f"not a readable Word document ({type(exc).__name__})") from None
        text, blocks = join_blocks(pieces)
        if not blocks:
            raise UnreadableError("no text in the Word document")
        return Extracted(self.kind, text, title, blocks)
