"""The one line-break rule: CRLF, a bare CR (old Mac files) and LF each end a line."""

from __future__ import annotations

import re

#: A line break: CRLF, a bare CR or LF.
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_breaks(text: str, start: int = 0, end: int | None = None) -> int:
    """Count the line breaks in ``text[start:end]``: CRLF, bare CR and LF each count once."""
    stop = len(text) if end is None else end
    # A CRLF is one CR and one LF: count both, then take the pairs off once.
    return text.count("\n", start, stop) + text.count("\r", start, stop) - text.count("\r\n", start, stop)


def line_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line of ``text``, without its line break (after a final break: an empty line)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in LINE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` without their line breaks (see :func:`line_spans`)."""
    return [text[start:end] for start, end in line_spans(text)]
