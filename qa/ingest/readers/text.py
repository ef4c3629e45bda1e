"""Plain text: the file's own text, paragraphs separated by blank lines."""

from __future__ import annotations

from ...config import MAX_FILE_MB
from ...text.passages import plain_blocks
from ...text.titles import title_and_lead
from .base import Extracted, UnreadableError

#: Bytes inspected for NUL characters when deciding whether a file is binary.
_BINARY_PROBE = 8192


def decoded(raw: bytes) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped, line endings kept (offsets stay verbatim).

    Raises:
        UnreadableError: The bytes are not UTF-8, or look binary (NUL bytes near the start).

    """
    if b"\x00" in raw[:_BINARY_PROBE]:
        raise UnreadableError("binary file (contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableError("not UTF-8 text") from None


class TextReader:
    """``*.txt``: quotes are verbatim slices of the file; no pages, no sections."""

    kind: str = "text"
    suffixes: tuple[str, ...] = (".txt",)

    def read(self, raw: bytes, source: str, *, limit_mb: float = MAX_FILE_MB) -> Extracted:
        """The file's text and its paragraphs (see :func:`qa.text.paragraphs.paragraph_spans`)."""
        text = decoded(raw)
        return Extracted(self.kind, text, title_and_lead(source, text)[0], plain_blocks(text))
