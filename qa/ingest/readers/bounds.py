"""Bounds on what one file may extract to: characters, paragraphs, and the length of one paragraph.

The file-size limit bounds the bytes read, not what they unpack to: a 205 KB Word document
can hold 60 MB of text in 99,391 paragraphs, and one 5 MB line is one paragraph. So every
extraction is bounded too (a file over a bound is skipped with the reason), and a paragraph
longer than :data:`MAX_PARAGRAPH_CHARS` is split at sentence ends into pieces that each
cite the paragraph they come from (same paragraph number; their own lines and pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ...text.passages import Block
from ...text.sentences import sentence_spans, trim
from .base import Extracted, Run, UnreadableError

#: Paragraphs one file may have (a long book has a few thousand).
MAX_PARAGRAPHS = 20_000
#: Characters in one cited paragraph: a longer one is split at sentence ends (the longest of
#: the 2,067 SQuAD dev paragraphs has 4,063).
MAX_PARAGRAPH_CHARS = 8_000
#: Pages of one PDF read (a longer one is skipped).
MAX_PAGES = 5_000
_MB = 2**20


def max_characters(limit_mb: float) -> int:
    """Characters one file may extract to: as many as the bytes of the largest file indexed."""
    return int(min(limit_mb * _MB, 2.0**40))


def bounded(extracted: Extracted, limit_mb: float) -> Extracted:
    """``extracted`` within the bounds: long paragraphs split; too much text or too many paragraphs refused.

    Raises:
        UnreadableError: The text is longer than :func:`max_characters` or has more than
            :data:`MAX_PARAGRAPHS` paragraphs; the message says which and what to change.

    """
    characters = len(extracted.text)
    most = max_characters(limit_mb)
    if characters > most:
        raise UnreadableError(
            f"its text is {characters:,} characters, more than the {most:,} read for a {limit_mb:g} MB"
            " file-size limit; raise QA_MAX_FILE_MB to index it"
        )
    if len(extracted.blocks) > MAX_PARAGRAPHS:
        raise UnreadableError(f"it has {len(extracted.blocks):,} paragraphs, more than the {MAX_PARAGRAPHS:,} read")
    if all(block.end - block.start <= MAX_PARAGRAPH_CHARS for block in extracted.blocks):
        return extracted
    blocks: list[Block] = []
    for number, block in enumerate(extracted.blocks, start=1):
        if block.end - block.start <= MAX_PARAGRAPH_CHARS:
            blocks.append(replace(block, paragraph=number))
            continue
        for start, end in pieces(extracted.text, block.start, block.end):
            first, last = _pages(extracted.runs, start, end, block)
            # On a later page than the paragraph began, a piece is that page's first paragraph (carried over).
            on_page = block.page_paragraph if first == block.page else 1
            blocks.append(
                replace(
                    block, start=start, end=end, page=first, end_page=last, page_paragraph=on_page, paragraph=number
                )
            )
    return replace(extracted, blocks=tuple(blocks))


def pieces(text: str, start: int, end: int, most: int = MAX_PARAGRAPH_CHARS) -> Iterator[tuple[int, int]]:
    """``text[start:end]`` as pieces of at most ``most`` characters, cut at sentence ends where there are some.

    Sentences are packed whole; a sentence longer than ``most`` is cut at the last space
    before the bound (or at the bound, in text without spaces). Pieces start and end on
    non-space characters and together hold every non-space character of the span.
    """
    piece_start: int | None = None
    piece_end = start
    for sentence_start, sentence_end in sentence_spans(text[start:end]):
        low, high = start + sentence_start, start + sentence_end
        if piece_start is not None and high - piece_start > most:
            yield piece_start, piece_end
            piece_start = None
        while high - low > most:
            cut = text.rfind(" ", low + 1, low + most + 1)
            cut = cut if cut > low else low + most
            yield trim(text, low, cut)
            low = trim(text, cut, high)[0]
        if piece_start is None:
            piece_start = low
        piece_end = high
    if piece_start is not None:
        yield piece_start, piece_end


def _pages(runs: tuple[Run, ...], start: int, end: int, block: Block) -> tuple[int | None, int | None]:
    """The PDF pages a piece of ``block`` starts and ends on (the block's own where runs do not say)."""
    if block.page is None or not runs:
        return block.page, block.end_page
    first = next((run.page for run in runs if run.start <= start < run.end), block.page)
    last = next((run.page for run in reversed(runs) if run.start < end <= run.end), block.end_page)
    return first, last
