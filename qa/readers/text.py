"""Plain text: the file's own text, paragraphs separated by blank lines."""

from __future__ import annotations

from ..documents import decode_text, make_document, paragraph_spans
from .base import Block, Extracted, UnreadableError


def decoded(raw: bytes) -> str:
    """The file's text (UTF-8, byte-order mark dropped, line endings kept).

    Raises:
        UnreadableError: The bytes are not UTF-8, or look binary.

    """
    try:
        return decode_text(raw)
    except UnicodeDecodeError:
        raise UnreadableError("not UTF-8 text") from None
    except ValueError as exc:
        raise UnreadableError(str(exc)) from None


class TextReader:
    """``*.txt``: quotes are verbatim slices of the file; no pages, no sections."""

    kind: str = "text"
    suffixes: tuple[str, ...] = (".txt",)

    def read(self, raw: bytes, source: str) -> Extracted:
        """The file's text and its paragraphs (see :func:`qa.documents.paragraph_spans`)."""
        text = decoded(raw)
        title = make_document(source, text).title
        return Extracted(self.kind, text, title, tuple(Block(s, e) for s, e in paragraph_spans(text)))
