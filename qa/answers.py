"""Turning ranked hits into an answer of verbatim, re-checked quotes with highlighted sentences."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .documents import Passage, make_document, sentence_spans
from .errors import QAError
from .readers import ReadFile, read_file
from .retrieval import Hit, Ranking, citation

Span = tuple[int, int]

#: Sentences scoring within this margin of the best one are highlighted too (0: only the best, and ties).
HIGHLIGHT_MARGIN = 0.0

#: Characters of a sentence scored for highlighting: the model reads no further anyway.
HIGHLIGHT_CHARS = 2000

#: Longest first line taken as an article's title.
TITLE_MAX = 64

NOT_FOUND = "No passage in the articles answers this question."


@dataclass(frozen=True)
class Quote(Hit):
    """A hit shown to the person: the verbatim paragraph plus the sentences that answer.

    Attributes:
        highlights: ``(start, end)`` character ranges within ``text`` that best answer
            the question, best first.
        relocated: The file changed since indexing but this exact paragraph was found
            again; the citation points to where it is now.
        title: The article's title (its first heading, a short first line, or the start
            of its first sentence), for people; ``source`` stays the file path.
        file_sha256: SHA-256 of the file's bytes when the quote was checked, so that a
            later reader can tell whether the file changed since.

    """

    highlights: tuple[Span, ...] = ()
    relocated: bool = False
    title: str = ""
    file_sha256: str = ""

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
            "page": self.passage.page,
            "end_page": self.passage.end_page,
            "section": self.passage.section,
            "score": round(self.score, 6),
            "citation": self.citation,
            "title": self.title,
            "passage_sha256": self.passage.sha256,
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
        more: Further passages that did not clear the relevance cut, best first (shown
            collapsed under "more passages").
        searched: What was searched: the question, or a follow-up expanded with the
            previous question's subject (``""`` only for answers built by hand).
        confidence: The calibrated probability that the best passage answers the question
            (``qa.answerability``); ``None`` when there was nothing to judge.

    """

    question: str
    found: bool
    quotes: tuple[Quote, ...]
    message: str
    warnings: tuple[str, ...] = ()
    best_score: float | None = None
    confident: bool = False
    more: tuple[Quote, ...] = ()
    searched: str = ""
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The answer as the JSON that ``qa ask --json`` prints."""
        return {
            "question": self.question,
            "searched": self.searched or self.question,
            "found": self.found,
            "confident": self.confident,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "message": self.message,
            "quotes": [quote.to_dict() for quote in self.quotes],
            "more": [quote.to_dict() for quote in self.more],
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
        self._files: dict[str, ReadFile | None] = {}

    def _read(self, source: str) -> ReadFile | None:
        """The file as its reader reads it now, or ``None`` if gone, unreadable or hostile.

        Read with the checks of indexing (:func:`qa.readers.read_file`): a file swapped since
        for a link out of the corpus, a FIFO, something too large or a file its reader can no
        longer parse counts as gone.
        """
        if source not in self._files:
            try:
                self._files[source] = read_file(self._root, source)
            except (OSError, ValueError, QAError):
                self._files[source] = None
        return self._files[source]

    def title(self, source: str) -> str:
        """The article's title as the file reads now (``""`` if it cannot be read)."""
        found = self._read(source)
        return title_of(found) if found else ""

    def digest(self, source: str) -> str:
        """SHA-256 of the file's current bytes (``""`` if it cannot be read)."""
        found = self._read(source)
        return found.sha256 if found else ""

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
        verbatim = found.text[passage.start_char : passage.end_char] == passage.text
        if verbatim and self._indexed.get(passage.source) == found.sha256:
            return passage
        # Offsets alone could still match text that moved to other lines, so look for the
        # paragraph by its text among the file's paragraphs as its reader finds them now.
        return locate(passage, found.passages)


def locate(passage: Passage, current: Sequence[Passage]) -> Passage | None:
    """Where ``passage`` is among its file's ``current`` paragraphs (nearest its old number), or ``None`` if gone."""
    matches = [c for c in current if c.text == passage.text and c.sha256 == passage.sha256]
    if not matches:
        return None
    return min(matches, key=lambda c: (abs(c.paragraph - passage.paragraph), c.paragraph))


def title_of(read: ReadFile) -> str:
    """A title people can read for a file as read: its reader's title, else :func:`article_title`."""
    return read.extracted.title or article_title(read.source, read.text)


def article_title(source: str, text: str) -> str:
    """A title people can read for an article.

    Its first heading, a short first line, a title-like file name, else the start of its
    first sentence (cut at a word, with an ellipsis).
    """
    document = make_document(source, text)
    if document.title:
        return document.title
    first = re.split(r"\r\n|\r|\n", text.strip(), maxsplit=1)[0].strip()
    if first and len(first) <= TITLE_MAX:
        return first
    lead = document.lead or first
    if len(lead) <= TITLE_MAX:
        return lead
    return lead[:TITLE_MAX].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def quote_count(hits: Sequence[Hit], *, margin: float, level: float, relative: bool = False) -> int:
    """How many of ``hits`` (best first) clear the relevance cut and are shown as quotes.

    The best hit always does; each next one does while its ranking score is within
    ``margin`` of the best (``relative``: within that fraction of it, for BM25 scores that
    have no fixed scale) or its dense cosine is at least ``level``. The cut is a prefix of
    the ranking, so that shown quotes stay in rank order.
    """
    if not hits:
        return 0
    best = hits[0].score
    floor = best * (1 - margin) if relative else best - margin
    count = 1
    for hit in hits[1:]:
        close = hit.score >= floor
        confident = hit.dense_score is not None and hit.dense_score >= level
        if not (close or confident):
            break
        count += 1
    return count


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


def compose(
    question: str,
    ranking: Ranking,
    *,
    found: bool,
    weak: bool = False,
    confidence: float | None = None,
    label: str,
    checker: SourceChecker,
    score_sentences: Callable[[str, list[str]], np.ndarray] | None,
    cut: Callable[[Sequence[Quote]], int] | None = None,
    highlight_bar: float = 0.0,
    highlight_within: float = 1.0,
    highlight_sentences: int = 48,
    searched: str = "",
) -> Answer:
    """Build an :class:`Answer` from a ranking, re-checking every quote on disk.

    Args:
        question: The question as asked.
        ranking: Hits best first.
        found: Whether the best evidence cleared the abstention threshold.
        weak: The evidence cleared it only narrowly; the message says to check the quotes.
        confidence: The answerability probability, passed on to the answer.
        label: Corpus folder name used in citations.
        checker: Verifies quotes against the files.
        score_sentences: Scores sentences against the question (cosine); ``None`` skips
            highlighting.
        cut: How many of the checked quotes (best first) are shown; the rest go to
            ``more``. ``None`` shows them all.
        highlight_bar: Sentence score a sentence must reach to be highlighted.
        highlight_within: ... and the most it may score below the answer's best sentence.
        highlight_sentences: Sentences of one passage scored (the first ones).
        searched: What was searched, when it differs from ``question`` (a follow-up).

    """
    warnings: list[str] = []
    checked: list[Quote] = []
    lost_best = False
    for position, hit in enumerate(ranking.hits):
        current = checker.current(hit.passage)
        if current is None:
            # The confidence was earned by the best passage: without it, the rest is not confident.
            lost_best = lost_best or position == 0
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
                title=checker.title(current.source),
                file_sha256=checker.digest(current.source),
            )
        )
    best = ranking.best_cosine if ranking.best_cosine is not None else ranking.best_lexical
    if not checked:
        message = NOT_FOUND if not warnings else "The passages that matched have changed since indexing."
        return Answer(question, False, (), message, tuple(warnings), best, searched=searched, confidence=confidence)
    count = cut(checked) if cut is not None else len(checked)
    # Passages that are probably not an answer get no highlight: nothing in them answers.
    # Only the shown quotes are scored: "more passages" are collapsed and rarely opened.
    if found and score_sentences is not None:
        shown_quotes = _highlight(
            searched or question,
            checked[:count],
            score_sentences,
            highlight_bar,
            highlight_within,
            highlight_sentences,
        )
        checked = [*shown_quotes, *checked[count:]]
    shown, more = tuple(checked[:count]), tuple(checked[count:])
    if found:
        noun = "passage" if len(shown) == 1 else "passages"
        message = f"Quoting {len(shown)} {noun} from the articles."
        if lost_best:
            weak = True
            message = (
                f"Weak match: the best-matching passage changed since indexing; quoting {len(shown)} other "
                f"{noun} that may not answer; check them."
            )
        elif weak:
            message = f"Weak match: quoting {len(shown)} {noun} that may only partly answer; check them."
    else:
        message = f"{NOT_FOUND} Closest, but probably not an answer:"
    return Answer(
        question,
        found,
        shown,
        message,
        tuple(warnings),
        best,
        confident=found and not weak,
        more=more,
        searched=searched,
        confidence=confidence,
    )


def _highlight(
    question: str,
    quotes: list[Quote],
    score_sentences: Callable[[str, list[str]], np.ndarray],
    bar: float,
    within: float,
    most: int,
) -> list[Quote]:
    """Attach the best-answering sentence ranges to each shown quote, scoring all sentences at once.

    A huge paragraph costs no more than its first ``most`` sentences of at most
    :data:`HIGHLIGHT_CHARS` characters each.
    """
    spans = [sentence_spans(quote.text)[:most] for quote in quotes]
    sentences = [
        quote.text[s : min(e, s + HIGHLIGHT_CHARS)]
        for quote, quote_spans in zip(quotes, spans, strict=True)
        for s, e in quote_spans
    ]
    scores = score_sentences(question, sentences).tolist() if sentences else []
    # A quote's best sentence is marked only if it is close to the best of the shown quotes.
    bar = max(bar, max(scores, default=0.0) - within)
    result: list[Quote] = []
    position = 0
    for quote, quote_spans in zip(quotes, spans, strict=True):
        own = scores[position : position + len(quote_spans)]
        position += len(quote_spans)
        result.append(replace(quote, highlights=highlight_spans(own, quote_spans, bar=bar)))
    return result
