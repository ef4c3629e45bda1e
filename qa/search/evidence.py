"""Reading a ranking's evidence: cosines, their margin, the best sentence, keyword scores and coverage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..store.bm25 import LexicalScores
from .hits import Evidence, Hit

#: Leading hits whose keyword evidence counts for abstention (the best of them).
EVIDENCE_HITS = 3


def evidence_of(
    hits: Sequence[Hit], dense: dict[int, float], sentences: dict[int, float], lexical: LexicalScores
) -> Evidence | None:
    """The answerability features of a ranking (see :class:`Evidence`); ``None`` without hits."""
    if not hits:
        return None
    cosines = sorted(dense.values(), reverse=True)
    best = cosines[0] if cosines else None
    # The margin is to the next *distinct* passage: copies folded into a hit do not count.
    distinct = sorted((h.dense_score for h in hits if h.dense_score is not None), reverse=True)
    if len(distinct) < 2:
        # A single hit asked for: the next passage's cosine is the best available (not a copy's).
        copies = {pid for hit in hits for pid in hit.duplicate_ids}
        distinct = sorted((c for pid, c in dense.items() if pid not in copies), reverse=True)
    margin = (distinct[0] - distinct[1] if len(distinct) > 1 else 0.0) if cosines else None
    sentence = max([*sentences.values(), *cosines[:1]], default=None)
    # The leading hits are what an answer shows first: the best of them speaks for the ranking.
    leading = [hit.passage_id for hit in hits[:EVIDENCE_HITS]]
    scores = lexical.of(leading) if lexical.attainable > 0 else {}
    covered = lexical.coverage(leading)
    # How far the best cosine stands out from all candidates' (0 with fewer than three of them,
    # or none spread), and 1 over the first hit's place among them by cosine (0: it has none).
    standout: float | None = None
    agreement: float | None = None
    if cosines:
        spread = float(np.std(cosines)) if len(cosines) >= 3 else 0.0
        standout = (cosines[0] - float(np.mean(cosines))) / spread if spread > 1e-9 else 0.0
        own = dense.get(hits[0].passage_id, hits[0].dense_score)
        agreement = 1.0 / (1 + sum(1 for c in cosines if c > own)) if own is not None else 0.0
    return Evidence(
        best_cosine=best,
        margin=margin,
        sentence_cosine=sentence,
        lexical=min(1.0, max(scores.values()) / lexical.attainable) if scores else 0.0,
        coverage=max(covered.values(), default=0.0),
        max_idf=lexical.max_idf,
        terms=lexical.terms,
        standout=standout,
        agreement=agreement,
    )
