"""Keyword terms: the one tokeniser of BM25, highlighting and answerability (the only user of bm25s and PyStemmer).

Text becomes lower-case words, English stop words left out, each reduced to its Snowball stem.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cache

import bm25s
import Stemmer

_STOPWORDS = "en"
_LANGUAGE = "english"
_local = threading.local()

#: Words that ask rather than say what is asked about; they do not count as shared key words.
QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "when", "where", "which", "why", "how"})
#: Shortest stem that counts as the start of a family of words ("direct": "director").
FAMILY = 5


def _stemmer() -> Stemmer.Stemmer:
    """A stemmer per thread (PyStemmer objects are not thread-safe)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        _quiet()
        stemmer = _local.stemmer = Stemmer.Stemmer(_LANGUAGE)
    return stemmer


@cache
def _quiet() -> None:
    """Quieten bm25s, which logs a line for every call (the index reports what matters itself); once, on first use."""
    logging.getLogger("bm25s").setLevel(logging.WARNING)


def terms_of(texts: Sequence[str]) -> list[list[str]]:
    """The stemmed search terms of each text, stop words left out."""
    if not texts:
        return []
    result = bm25s.tokenize(
        list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False, return_ids=False
    )
    return [list(words) for words in result]


def tokens(text: str) -> list[str]:
    """The stemmed search terms of ``text``, stop words left out."""
    return terms_of([text])[0]


def key_terms(question: str) -> set[str]:
    """The terms of a question that say what it is about (question words left out)."""
    # Terms are stems ("why" is "whi"): the question words are left out as stems too.
    stemmer = _stemmer()
    return set(tokens(question)) - {stemmer.stemWord(word) for word in QUESTION_WORDS}


def shared(terms: set[str], words: set[str]) -> int:
    """How many of ``terms`` the ``words`` hold, counting stem families (one stem starting the other)."""
    return sum(
        1
        for term in terms
        if term in words
        or any(len(w) >= FAMILY and len(term) >= FAMILY and (w.startswith(term) or term.startswith(w)) for w in words)
    )
