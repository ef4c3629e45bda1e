"""Turning ranked hits into an answer of verbatim, re-checked quotes with highlighted sentences."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .documents import Passage, decode_text, make_document, sentence_spans, split_passages
from .retrieval import Hit, Ranking, citation

Span = tuple[int, int]

#: Sentences scoring within this margin of the best one are highlighted too.
HIGHLIGHT_MARGIN = 0.03

NOT_FOUND = "No passage in the articles answers this question."


@dataclass(frozen=True)
class Quote(Hit):
    """A hit shown to the person: the verbatim paragraph plus the sentences that answer.

    Attributes:
        highlights: ``(start, end)`` character ranges within ``text`` that best answer
            the question, best first.
        relocated: The file changed since indexing but this exact paragraph was found
            again; the citation points to where it is now.

    """

    highlights: tuple[Span, ...] = ()
    relocated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The quote as plain JSON-ready data."""
        return {
            "source": self.source,
            "paragraph": self.paragraph,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "text": self.text,
            "score": round(self.score, 6),
            "citation": self.citation,
            "highlights": [list(span) for span in self.highlights],
            "also_in": list(self.also_in),
        }


@dataclass(frozen=True)
class Answer:
    """What the bot says to a question.

    Attributes:
        question: The question as asked.
        found: Whether the quotes answer the question; when ``False`` they are only the
            closest passages, probably not an answer.
        quotes: Verbatim paragraphs, best first.
        message: One line summing up the answer for a person.
        warnings: Files that changed since indexing and similar notices.
        best_score: The evidence the abstention decision used (best cosine, or best
            BM25 score for the lexical retriever).
        confident: ``found`` with evidence well above the threshold; a found answer that is
            not confident is a weak match and its message says so.

    """

    question: str
    found: bool
    quotes: tuple[Quote, ...]
    message: str
    warnings: tuple[str, ...] = ()
    best_score: float | None = None
    confident: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The answer as the JSON that ``qa ask --json`` prints."""
        return {
            "question": self.question,
            "found": self.found,
            "confident": self.confident,
            "message": self.message,
            "quotes": [quote.to_dict() for quote in self.quotes],
            "warnings": list(self.warnings),
        }


class SourceChecker:
    """Checks quotes against the files on disk, re-locating paragraphs that moved."""

    def __init__(self, root: Path, indexed: dict[str, str] | None = None) -> None:
        """Check files under the corpus folder ``root``.

        Args:
            root: The corpus folder.
            indexed: SHA-256 of each file's bytes when it was indexed; a file whose hash
                still matches is known to be unchanged.

        """
        self._root = root
        self._indexed = indexed or {}
        self._files: dict[str, tuple[str, str] | None] = {}

    def _read(self, source: str) -> tuple[str, str] | None:
        """The file's current ``(text, sha256 of bytes)``, or ``None`` if gone or unreadable."""
        if source not in self._files:
            try:
                raw = (self._root / source).read_bytes()
                self._files[source] = (decode_text(raw), hashlib.sha256(raw).hexdigest())
            except (OSError, UnicodeDecodeError, ValueError):
                self._files[source] = None
        return self._files[source]

    def current(self, passage: Passage) -> Passage | None:
        """Return the passage as it is on disk now.

        A passage is confirmed only when the file's current text at its offsets is its
        text and the lines before it are where they were; a matching file hash alone
        is not trusted (the stored passage could have been altered).

        Returns:
            ``passage`` itself if it is verbatim where it says; the paragraph as found in
            a changed file (same text, possibly new paragraph number, lines or offsets);
            ``None`` if the text is gone.

        """
        found = self._read(passage.source)
        if found is None:
            return None
        text, digest = found
        verbatim = text[passage.start_char : passage.end_char] == passage.text
        if verbatim and self._indexed.get(passage.source) == digest:
            return passage
        # Offsets alone could still match text that moved to other lines, so split the
        # file again and find the paragraph by its text.
        matches = [
            c
            for c in split_passages(make_document(passage.source, text))
            if c.text == passage.text and c.sha256 == passage.sha256
        ]
        if not matches:
            return None
        return min(matches, key=lambda c: (abs(c.paragraph - passage.paragraph), c.paragraph))


def highlight_spans(scores: Sequence[float], spans: Sequence[Span]) -> tuple[Span, ...]:
    """Pick the best-scoring sentence spans (best first) within a margin of the top one."""
    if not spans:
        return ()
    best = max(scores)
    order = sorted(range(len(spans)), key=lambda i: -scores[i])
    return tuple(spans[i] for i in order if scores[i] >= best - HIGHLIGHT_MARGIN)


def compose(
    question: str,
    ranking: Ranking,
    *,
    found: bool,
    weak: bool = False,
    label: str,
    checker: SourceChecker,
    score_sentences: Callable[[str, list[str]], np.ndarray] | None,
) -> Answer:
    """Build an :class:`Answer` from a ranking, re-checking every quote on disk.

    Args:
        question: The question.
        ranking: Hits best first.
        found: Whether the best evidence cleared the abstention threshold.
        weak: The evidence cleared it only narrowly; the message says to check the quotes.
        label: Corpus folder name used in citations.
        checker: Verifies quotes against the files.
        score_sentences: Scores sentences against the question (cosine); ``None`` skips
            highlighting.

    """
    warnings: list[str] = []
    checked: list[Quote] = []
    for hit in ranking.hits:
        current = checker.current(hit.passage)
        if current is None:
            warnings.append(
                f"{citation(label, hit.passage)} is no longer in the file (it changed since indexing); "
                "not quoted. Rebuild the index with `qa index`."
            )
            continue
        moved = current != hit.passage
        if moved:
            warnings.append(
                f"{hit.source} changed since indexing; the quote was found again at {citation(label, current)}."
            )
        # Duplicates are citations too: each is re-checked like the quote itself.
        twins = [checker.current(twin) for twin in hit.duplicates]
        duplicates = tuple(t for t in twins if t is not None)
        checked.append(
            Quote(
                passage=current,
                score=hit.score,
                rank=len(checked) + 1,
                citation=citation(label, current),
                dense_score=hit.dense_score,
                lexical_score=hit.lexical_score,
                also_in=tuple(citation(label, t) for t in duplicates),
                duplicates=duplicates,
                relocated=moved,
            )
        )
    if score_sentences is not None and checked:
        checked = _highlight(question, checked, score_sentences)
    best = ranking.best_cosine if ranking.best_cosine is not None else ranking.best_lexical
    if not checked:
        message = NOT_FOUND if not warnings else "The passages that matched have changed since indexing."
        return Answer(question, False, (), message, tuple(warnings), best)
    if found:
        noun = "passage" if len(checked) == 1 else "passages"
        message = f"Quoting {len(checked)} {noun} from the articles."
        if weak:
            message = f"Weak match: quoting {len(checked)} {noun} that may only partly answer; check them."
    else:
        message = f"{NOT_FOUND} Closest, but probably not an answer:"
    return Answer(question, found, tuple(checked), message, tuple(warnings), best, confident=found and not weak)


def _highlight(
    question: str, quotes: list[Quote], score_sentences: Callable[[str, list[str]], np.ndarray]
) -> list[Quote]:
    """Attach the best-answering sentence ranges to each quote, scoring all sentences at once."""
    spans = [sentence_spans(quote.text) for quote in quotes]
    sentences = [quote.text[s:e] for quote, quote_spans in zip(quotes, spans, strict=True) for s, e in quote_spans]
    scores = score_sentences(question, sentences).tolist() if sentences else []
    result: list[Quote] = []
    position = 0
    for quote, quote_spans in zip(quotes, spans, strict=True):
        own = scores[position : position + len(quote_spans)]
        position += len(quote_spans)
        result.append(replace(quote, highlights=highlight_spans(own, quote_spans)))
    return result
