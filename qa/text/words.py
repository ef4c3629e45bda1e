"""Surface words, as people write them: for names in follow-ups, hyphens in PDFs and word shingles.

Keyword search does not use these: its terms are stemmed (:mod:`qa.text.terms`).
"""

from __future__ import annotations

import re

#: A run of word characters: what word shingles are made of (duplicates).
WORD = re.compile(r"\w+")
#: A word with its inner apostrophes and hyphens ("Al-Hashimi", "what's"): names and question words.
WRITTEN_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
#: A word and the words it is joined to by hyphens ("black-and-white"): PDF line-end hyphens.
HYPHENATED = re.compile(r"\w+(?:-\w+)*")


def written_words(text: str) -> list[str]:
    """The words of ``text`` in order, with inner apostrophes and hyphens."""
    return WRITTEN_WORD.findall(text)
