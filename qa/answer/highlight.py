"""Which sentences of a quote answer: cosine with the question plus shared key words, near the answer's best."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from ..embed.embedder import Embedder
from ..search.markers import markers
from ..text.sentences import sentence_spans
from ..text.terms import key_terms, shared, terms_of
from .quotes import Quote, Span

#: Sentences scoring within this margin of the best one are highlighted too (0: only the best, and ties).
HIGHLIGHT_MARGIN = 0.0
#: Characters of a sentence scored for highlighting: the model reads no further anyway.
HIGHLIGHT_CHARS = 2000
#: Weight of the share of question words a sentence contains.
OVERLAP_WEIGHT = 0.5


class Scorer(Protocol):
    """Scores sentences against a question: higher answers better."""

    def __call__(self, question: str, sentences: list[str]) -> np.ndarray:
        """One score per sentence."""
        ...


class SentenceScorer:
    """How well each sentence answers: cosine with the question plus the share of its key words.

    A key word counts when the sentence has it or a word of the same stem family (one stem
    starting the other, "direct" and "director"). The question's time and contrast words
    ("again", "no longer": :mod:`qa.search.markers`) weigh on their own, as in the ranking:
    "The light shone again" answers "when was it switched on again?", not "It was switched
    off in 1994".
    """

    def __init__(self, embedder: Callable[[], Embedder], *, marker_weight: float = 0.0) -> None:
        """Score with the model ``embedder`` returns (loaded on the first score)."""
        self._embedder = embedder
        self._marker_weight = marker_weight

    def __call__(self, question: str, sentences: list[str]) -> np.ndarray:
        """One score per sentence."""
        vectors = self._embedder().encode([question, *sentences])
        terms = key_terms(question)
        said = [set(words) for words in terms_of(sentences)]
        overlap = [shared(terms, words) / len(terms) if terms else 0.0 for words in said]
        scores: np.ndarray = vectors[1:] @ vectors[0] + OVERLAP_WEIGHT * np.asarray(overlap)
        marked = markers(question)
        if marked and self._marker_weight > 0:
            held = np.array([sum(term in words for term in marked) / len(marked) for words in said])
            scores = scores + self._marker_weight * held
        return scores


def highlight_spans(scores: Sequence[float], spans: Sequence[Span], *, bar: float = 0.0) -> tuple[Span, ...]:
    """Pick the best-scoring sentence spans, best first.

    A sentence is picked when it is within a margin of the top one and clears the
    absolute ``bar``; if no sentence clears it, none is.
    """
    if not spans:
        return ()
    best = max(scores)
    floor = max(best - HIGHLIGHT_MARGIN, bar)
    order = sorted(range(len(spans)), key=lambda i: -scores[i])
    return tuple(spans[i] for i in order if scores[i] >= floor)


def highlight(
    question: str, quotes: list[Quote], scorer: Scorer, *, bar: float, within: float, most: int
) -> list[Quote]:
    """Attach the best-answering sentence ranges to each quote, scoring all sentences at once.

    A quote's best sentence is marked only if it clears ``bar`` and is within ``within`` of the
    best sentence of all the quotes. A huge paragraph costs no more than its first ``most``
    sentences of at most :data:`HIGHLIGHT_CHARS` characters each.
    """
    spans = [sentence_spans(quote.text)[:most] for quote in quotes]
    sentences = [
        quote.text[s : min(e, s + HIGHLIGHT_CHARS)]
        for quote, quote_spans in zip(quotes, spans, strict=True)
        for s, e in quote_spans
    ]
    scores = scorer(question, sentences).tolist() if sentences else []
    bar = max(bar, max(scores, default=0.0) - within)
    result: list[Quote] = []
    position = 0
    for quote, quote_spans in zip(quotes, spans, strict=True):
        own = scores[position : position + len(quote_spans)]
        position += len(quote_spans)
        result.append(replace(quote, highlights=highlight_spans(own, quote_spans, bar=bar)))
    return result
