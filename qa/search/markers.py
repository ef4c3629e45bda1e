"""Time and contrast words: "when did the light shine *again*?" is asked of the paragraph that says "again".

A question about the second time something happened, the state *after* a change or what is
*no longer* so shares every other word with the paragraph about the first time. The few
words that carry the difference are weighed on their own: a passage holding them gains a
share of :attr:`qa.config.Settings.marker_weight`, each word by how rare it is in the
corpus ("again" weighs more than "first", which half the articles of a history say).
"""

from __future__ import annotations

import re

from ..text.terms import tokens

#: Words (and phrases) that mark when or in contrast to what something is asked about.
MARKERS = (
    "again",
    "after",
    "afterwards",
    "anymore",
    "before",
    "earlier",
    "first",
    "formerly",
    "later",
    "no longer",
    "now",
    "once",
    "previously",
    "still",
    "until",
    "since",
    "today",
    "reopened",
    "restored",
)
_MARKER = re.compile(r"\b(" + "|".join(m.replace(" ", r"\s+") for m in MARKERS) + r")\b", re.IGNORECASE)


def markers(question: str) -> list[str]:
    """The keyword terms of the time and contrast words ``question`` holds, once each ("no longer": "longer")."""
    found = [m.group(1).lower().split()[-1] for m in _MARKER.finditer(question)]
    return list(dict.fromkeys(t for word in found for t in tokens(word)))
