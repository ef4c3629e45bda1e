"""Titles and lead sentences of articles: from a heading, a file name, or the first sentence."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .lines import split_lines
from .paragraphs import paragraph_spans
from .sentences import first_sentence

#: An ATX heading line (``# Title #``, CommonMark's rule: the marks end at a space, a tab or
#: the line's end), as plain text may start with one too; one line only. See :func:`heading`
#: for its level and title. (One way to match any text: no backtracking blow-up on long lines.)
HEADING = re.compile(r"^ {0,3}(?P<marks>#{1,6})(?:[ \t](?P<rest>[^\r\n]*))?\Z")
#: Longest first line taken as an article's title for people.
TITLE_MAX = 64


def heading(line: str) -> tuple[int, str] | None:
    """The level and title of an ATX heading line (``## Title ##`` is ``(2, "Title")``), else ``None``.

    As CommonMark says: the title may be empty (``#`` alone), and a closing run of ``#``
    counts only after a space or a tab (``# C#`` is titled ``C#``).
    """
    match = HEADING.match(line)
    if match is None:
        return None
    title = (match["rest"] or "").strip(" \t")
    bare = title.rstrip("#")
    if not bare or bare[-1] in " \t":
        title = bare.rstrip(" \t")
    return len(match["marks"]), title


def title_from_name(source: str) -> str:
    """A title from a file name made of words (``Super_Bowl_50.txt``), or ``""`` for ids.

    Names such as ``000_3ff9e896d4582ee2.txt`` carry no meaning and give no title.
    """
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = re.split(r"[_\-\s]+", stem)
    meaningful = [w for w in words if len(w) >= 3 and w.isalpha()]
    if not meaningful or any(w and not w.isalpha() and not w.isdigit() for w in words):
        return ""
    return " ".join(w for w in words if w)


def lead_of(paragraphs: Iterable[str]) -> str:
    """An article's lead: the first sentence of its first paragraph that is not a heading line."""
    body = next((p for p in paragraphs if heading(p) is None), "")
    return first_sentence(body) if body else ""


def title_and_lead(source: str, text: str) -> tuple[str, str]:
    """A plain text's title (its heading line, else one from its name) and lead (its first body sentence)."""
    spans = paragraph_spans(text)
    first = text[spans[0][0] : spans[0][1]] if spans else ""
    found = heading(first)
    title = found[1] if found and found[1] else title_from_name(source)
    return title, lead_of(text[s:e] for s, e in spans)


def _said(line: str) -> str:
    """What a line says: its title if it is a heading line, else itself."""
    found = heading(line)
    return found[1] if found else line


def readable_title(source: str, text: str, title: str = "") -> str:
    """A title people can read for an article.

    ``title`` if given; else its heading, a title-like file name, a short first line, or
    the start of its first sentence (cut at a word, with an ellipsis).
    """
    if title:
        return title
    found, lead = title_and_lead(source, text)
    if found:
        return found
    # The first line that says something (a heading line says its title; an empty one nothing).
    said = (_said(line.strip()) for line in split_lines(text.strip()))
    first = next((words for words in said if words), "")
    if first and len(first) <= TITLE_MAX:
        return first
    lead = lead or first
    if len(lead) <= TITLE_MAX:
        return lead
    return lead[:TITLE_MAX].rsplit(" ", 1)[0].rstrip(",;:") + "…"
