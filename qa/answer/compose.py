"""Turning a ranking into an answer: the decision, the quotes re-checked on disk, the cut, the highlights."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RetrieverName, Settings
from ..embed.embedder import Embedder
from ..search.hits import Hit, Ranking, citation
from ..search.request import Request
from .answerability import Answerability
from .decision import Decision, decide, model_for
from .highlight import Scorer, SentenceScorer, highlight
from .quotes import Quote, SourceChecker

NOT_FOUND = "No passage in the articles answers this question."


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
            (:mod:`qa.answer.answerability`); ``None`` when there was nothing to judge.

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


class Answerer:
    """Answers from the rankings of one index state: its calibration, its files, its citations."""

    def __init__(
        self,
        settings: Settings,
        *,
        sentences: bool,
        corpus: Path,
        files: dict[str, str],
        label: str,
        embedder: Callable[[], Embedder],
    ) -> None:
        """Answer with ``settings`` for an index of ``files`` (their hashes) under ``corpus``.

        Args:
            settings: The relevance cut, the highlight rule, abstention and the size limit.
            sentences: Whether the index holds sentence vectors (they have their own calibration).
            corpus: The corpus folder, where quotes are checked.
            files: The SHA-256 of each indexed file's bytes.
            label: How citations name the corpus folder.
            embedder: Gives the model that scores sentences for highlighting (loaded on first use).

        """
        self.settings = settings
        self._sentences = sentences
        self._corpus = corpus
        self._files = files
        self._label = label
        #: Scores sentences for highlighting (replaceable, e.g. to count what is scored).
        self.scorer: Scorer = SentenceScorer(embedder, marker_weight=settings.marker_weight)

    def model(self, mode: RetrieverName) -> Answerability:
        """The calibration in force for ``mode`` (see :func:`qa.answer.decision.model_for`)."""
        return model_for(self.settings, mode, sentences=self._sentences)

    def decide(self, ranking: Ranking, mode: RetrieverName) -> Decision:
        """Whether ``ranking`` answers (see :func:`qa.answer.decision.decide`)."""
        return decide(ranking, settings=self.settings, mode=mode, model=self.model(mode))

    def respond(self, request: Request, ranking: Ranking) -> Answer:
        """Answer ``request`` from its ranking: decide, check every quote on disk, cut and highlight.

        Of the ranked passages, those that clear the relevance cut (the best, plus those within
        ``settings.quote_margin`` of it or with a cosine of at least ``settings.quote_level``) are
        the quotes; the rest are ``Answer.more``. Files are read anew for each answer.
        """
        checker = SourceChecker(self._corpus, self._files, limit_mb=self.settings.max_file_mb)
        return compose(
            request.question,
            ranking,
            self.decide(ranking, request.mode),
            settings=self.settings,
            relative=request.mode == "lexical",
            label=self._label,
            checker=checker,
            scorer=self.scorer,
            searched=request.searched,
        )


def corpus_gone_message(label: str, root: Path) -> str:
    """What to say when the corpus folder an index was built from is not there any more."""
    where = f"{label} ({root})" if label and label != str(root) else str(root)
    return (
        f"The corpus folder {where} is not there any more: nothing can be checked or quoted."
        " If it moved, point the index at its new place with `qa index NEWPLACE --out INDEX`."
    )


def compose(
    question: str,
    ranking: Ranking,
    decision: Decision,
    *,
    settings: Settings,
    label: str,
    checker: SourceChecker,
    scorer: Scorer | None,
    relative: bool = False,
    searched: str = "",
) -> Answer:
    """Build an :class:`Answer` from a ranking and its decision, re-checking every quote on disk.

    Args:
        question: The question as asked.
        ranking: Hits best first.
        decision: Whether it answers (:func:`qa.answer.decision.decide`).
        settings: The relevance cut and the highlight rule.
        label: Corpus folder name used in citations.
        checker: Verifies quotes against the files.
        scorer: Scores sentences against the question; ``None`` skips highlighting.
        relative: The cut is relative to the best score (BM25 scores have no fixed scale).
        searched: What was searched, when it differs from ``question`` (a follow-up).

    """
    found, weak, confidence = decision
    warnings: list[str] = []
    checked: list[Quote] = []
    lost_best = False
    for position, hit in enumerate(ranking.hits):
        current = checker.current(hit.passage)
        if current is None:
            # The confidence was earned by the best passage: without it, the rest is not confident.
            lost_best = lost_best or position == 0
            if checker.corpus_gone:
                # One warning for the whole folder, not one per passage.
                gone = corpus_gone_message(label, checker.root)
                if gone not in warnings:
                    warnings.append(gone)
                continue
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
        if checker.corpus_gone and warnings:
            message = "The articles cannot be read: their folder is not there any more."
        else:
            message = NOT_FOUND if not warnings else "The passages that matched have changed since indexing."
        return Answer(question, False, (), message, tuple(warnings), best, searched=searched, confidence=confidence)
    count = quote_count(checked, margin=settings.quote_margin, level=settings.quote_level, relative=relative)
    # Passages that are probably not an answer get no highlight: nothing in them answers.
    # Only the shown quotes are scored: "more passages" are collapsed and rarely opened.
    if found and scorer is not None:
        shown_quotes = highlight(
            searched or question,
            checked[:count],
            scorer,
            bar=settings.highlight_bar,
            within=settings.highlight_within,
            most=settings.highlight_sentences,
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
