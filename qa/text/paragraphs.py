"""The plain-text paragraph rule: blocks between blank lines, or one paragraph per long line."""

from __future__ import annotations

from .lines import line_spans
from .sentences import trim

#: A block line longer than this is taken as a whole paragraph, not a hard-wrapped line.
LONG_LINE = 120


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Find the paragraphs of ``text`` as ``(start_char, end_char)`` offsets.

    Blocks are separated by blank lines. A block whose lines are long (any line
    but the last over :data:`LONG_LINE` characters) holds one paragraph per line,
    as in files written with one paragraph per line; otherwise the block is a
    single hard-wrapped paragraph. Offsets exclude surrounding whitespace.
    """
    blocks: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for start, end in line_spans(text):
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
            spans.append(trim(text, group[0][0], group[-1][1]))
    return spans
