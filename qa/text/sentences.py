"""Sentences: where they end, and the one list of abbreviations that end no sentence."""

from __future__ import annotations

import re

#: A sentence end: closing punctuation, maybe quotes or brackets, space, then a capital or digit.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?P<close>[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")
#: The word just before a full stop (with the closing quotes or brackets after it).
_LAST_WORD = re.compile(r"([\w.]+)\.[\"'”’)\]]*$")

#: Words that end in a full stop without ending a sentence ("Dr. Amina", "e.g. this"), lower case.
ABBREVIATIONS = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "jr",
        "sr",
        "mt",
        "no",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "rev",
        "fig",
        "al",
        "inc",
        "ltd",
        "co",
        "corp",
    ]
)


def ends_no_sentence(word: str) -> bool:
    """Whether ``word``, written before a full stop, is an abbreviation or an initial (``Dr``, ``J``)."""
    return word.lower() in ABBREVIATIONS or len(word) == 1


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Move ``start`` and ``end`` inwards past whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences, as ``(start, end)`` offsets without outer whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        # "Dr. Amina" or "J. Smith" is not a sentence end.
        end = match.start() + len(match.group("close"))
        word = _LAST_WORD.search(text, start, end)
        if word and ends_no_sentence(word.group(1)):
            continue
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    return [trim(text, s, e) for s, e in spans if text[s:e].strip()]


def first_sentence(text: str) -> str:
    """Return the first sentence of ``text`` (all of it if no sentence end is found), whitespace collapsed."""
    spans = sentence_spans(text)
    start, end = spans[0] if spans else (0, len(text))
    return " ".join(text[start:end].split())
