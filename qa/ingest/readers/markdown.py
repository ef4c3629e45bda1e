"""Markdown: the file's own text, with headings as title and sections rather than paragraphs.

Front matter (``---`` … ``---`` at the top) is not a paragraph, but its ``title:`` is the
title. A fenced code block is one paragraph however many blank lines it holds; a table is
one paragraph. Everything else is split as plain text is. Each paragraph is the raw
Markdown slice of the file, so that quotes stay verbatim.
"""

from __future__ import annotations

import re

from ...config import MAX_FILE_MB
from ...text.lines import line_spans
from ...text.paragraphs import paragraph_spans
from ...text.passages import Block
from ...text.titles import heading, title_and_lead
from .base import Extracted
from .text import decoded

_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE = re.compile(r"^ {0,3}\|")
_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FRONT_TITLE = re.compile(r"title:[ \t]*(?P<title>[^\r\n]+?)[ \t]*")


def _lines(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line without its line break; a final line break opens no empty line."""
    spans = line_spans(text)
    if len(spans) > 1 and spans[-1][0] == len(text):
        spans.pop()
    return spans


def _unquote(value: str) -> str:
    """A front-matter value without its quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


class MarkdownReader:
    """``*.md``: headings give the title and each paragraph's section."""

    kind: str = "markdown"
    suffixes: tuple[str, ...] = (".md",)

    def read(self, raw: bytes, source: str, *, limit_mb: float = MAX_FILE_MB) -> Extracted:
        """The file's text, its title and its paragraphs under their headings."""
        text = decoded(raw)
        lines = _lines(text)
        title = ""
        first = 0
        # Front matter: only at the very top, closed by a second "---" line.
        if lines and text[lines[0][0] : lines[0][1]].strip() == "---":
            close = next((n for n in range(1, len(lines)) if text[slice(*lines[n])].strip() in ("---", "...")), None)
            if close is not None:
                # Its lines as the file breaks them (LF, CRLF or a bare CR).
                for row in range(1, close):
                    if match := _FRONT_TITLE.fullmatch(text, *lines[row]):
                        title = _unquote(match["title"])
                        break
                first = close + 1
        blocks: list[Block] = []
        headings: list[tuple[int, str]] = []
        section: str | None = None
        run: list[int] = []

        def flush() -> None:
            # A run of ordinary lines is split as plain text is.
            if run:
                start, end = lines[run[0]][0], lines[run[-1]][1]
                blocks.extend(Block(start + s, start + e, section=section) for s, e in paragraph_spans(text[start:end]))
                run.clear()

        number = first
        while number < len(lines):
            line = text[slice(*lines[number])]
            fence = _FENCE.match(line)
            after_blank = number == first or not text[slice(*lines[number - 1])].strip()
            underline = _SETEXT.match(text[slice(*lines[number + 1])]) if number + 1 < len(lines) else None
            if atx := heading(line):
                flush()
                headings.append(atx)
                section = atx[1] or section
            elif line.strip() and underline and after_blank and not _TABLE.match(line):
                flush()
                headings.append((1 if underline[1][0] == "=" else 2, line.strip()))
                section = line.strip()
                number += 1
            elif _BREAK.match(line):
                # A thematic break (---, ***) separates; it is not a paragraph.
                flush()
            elif fence:
                flush()
                marker = fence[1]
                end = next(
                    (n for n in range(number + 1, len(lines)) if text[slice(*lines[n])].strip().startswith(marker)),
                    len(lines) - 1,
                )
                blocks.append(Block(lines[number][0], lines[end][1], section=section))
                number = end
            elif _TABLE.match(line):
                flush()
                end = number
                while end + 1 < len(lines) and _TABLE.match(text[slice(*lines[end + 1])]):
                    end += 1
                blocks.append(Block(lines[number][0], lines[end][1], section=section))
                number = end
            else:
                run.append(number)
            number += 1
        flush()
        if not title and headings:
            title = min(headings, key=lambda h: h[0])[1]
        # The title's own heading is no section: paragraphs under it are in no section.
        blocks = [Block(b.start, b.end, section=None if b.section == title else b.section) for b in blocks]
        return Extracted(self.kind, text, title or title_and_lead(source, text)[0], tuple(blocks))
