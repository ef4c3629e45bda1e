"""What a search returns: ranked hits with their citations, and the ranking with its evidence for abstention."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..text.passages import Passage
from ..text.visible import visible


def citation(label: str, passage: Passage) -> str:
    """Format ``label/source ¶N (line L)`` for a passage (pages and sections as :attr:`Passage.place` says).

    Control characters in a file name (a newline, an escape) and direction-changing or
    invisible ones are written as escapes (:func:`qa.text.visible.visible`), so that a
    citation is always one line of plain text that reads as it is; ``source`` keeps the
    real name.
    """
    path = f"{label.rstrip('/')}/{passage.source}" if label else passage.source
    return visible(f"{path} {passage.place}")


@dataclass(frozen=True)
class Hit:
    """One ranked passage.

    Attributes:
        passage: The cited paragraph.
        score: The score the ranking used (cosine, BM25 or fused, by retriever).
        rank: 1-based position in the ranking.
        citation: Where to find it, e.g. ``seeds/a.txt ¶4 (line 4)``.
        dense_score: Best cosine of the passage's windows with the question, if computed.
        lexical_score: BM25 score of the passage, if computed.
        also_in: Citations of near-identical passages folded into this one.
        duplicates: The near-identical passages themselves.
        passage_id: The passage's row in the index (``-1``: not from an index).
        duplicate_ids: The rows of ``duplicates``, in the same order.

    """

    passage: Passage
    score: float
    rank: int
    citation: str
    dense_score: float | None = None
    lexical_score: float | None = None
    also_in: tuple[str, ...] = ()
    duplicates: tuple[Passage, ...] = field(default=(), repr=False)
    passage_id: int = field(default=-1, repr=False, compare=False)
    duplicate_ids: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @property
    def source(self) -> str:
        """File path relative to the corpus folder."""
        return self.passage.source

    @property
    def paragraph(self) -> int:
        """1-based paragraph number within the file."""
        return self.passage.paragraph

    @property
    def start_line(self) -> int:
        """1-based first line."""
        return self.passage.start_line

    @property
    def end_line(self) -> int:
        """1-based last line (inclusive)."""
        return self.passage.end_line

    @property
    def start_char(self) -> int:
        """Offset of the first character in the file's text."""
        return self.passage.start_char

    @property
    def end_char(self) -> int:
        """Offset just past the last character."""
        return self.passage.end_char

    @property
    def text(self) -> str:
        """The paragraph, verbatim."""
        return self.passage.text


@dataclass(frozen=True)
class Evidence:
    """What the answerability model reads to decide whether the best passage answers.

    Attributes:
        best_cosine: Highest cosine between the question and any passage (``None`` when
            no vector search ran: the lexical retriever).
        margin: ``best_cosine`` minus the next-best passage's cosine (``None`` as above,
            0 with a single passage).
        sentence_cosine: Highest cosine between the question and one sentence of the
            leading passages (their paragraph cosine where a passage has one sentence).
        lexical: The best BM25 score of the leading hits (:data:`qa.search.evidence.EVIDENCE_HITS`) as a share
            of the question's attainable maximum.
        coverage: The largest share of the question's squared-IDF mass (rare words weigh
            most) whose terms one of the leading hits holds.
        max_idf: How rare the question's rarest term is (1: it occurs nowhere).
        terms: Distinct content words (stemmed, stop words left out) in the question.
        standout: How far the best cosine stands above the cosines of all candidates, in
            standard deviations (0 with fewer than 3 candidates; ``None`` without vector search).
        agreement: 1 over the dense rank of the first hit: 1 when the best-ranked passage is
            also the closest by cosine, 0 when it has no cosine (``None`` without vector search).

    """

    best_cosine: float | None
    margin: float | None
    sentence_cosine: float | None
    lexical: float
    coverage: float
    max_idf: float
    terms: int
    standout: float | None = None
    agreement: float | None = None


@dataclass(frozen=True)
class Ranking:
    """Ranked hits and the evidence used to decide whether to abstain.

    Attributes:
        hits: Best first, near-duplicates collapsed.
        best_cosine: Highest cosine between the question and any passage (``None`` if
            the dense retriever did not run).
        best_lexical: Highest BM25 score (``None`` if the lexical retriever did not run).
        evidence: The answerability features (``None`` when nothing could be searched).

    """

    hits: tuple[Hit, ...]
    best_cosine: float | None
    best_lexical: float | None
    evidence: Evidence | None = None
