"""Measuring retrieval: every question through the index, ranking metrics and abstention."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..answer.decision import describe
from ..config import RetrieverName
from ..index import Index
from ..search.request import check_mode
from .questions import Question

#: Cut-offs reported for recall.
RECALL_AT = (1, 5, 10, 20)
#: Cut-off of MRR and nDCG.
RANK_AT = 10


@dataclass(frozen=True)
class QuestionResult:
    """How one question went: the ranked keys, the abstention decision, the time taken."""

    id: str
    ranked: tuple[str, ...]
    found: bool
    best_score: float | None
    seconds: float
    confidence: float | None = None


@dataclass(frozen=True)
class Report:
    """Aggregate metrics and the per-question results behind them."""

    metrics: dict[str, float | int | None]
    questions: tuple[QuestionResult, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON that ``qa eval --json`` prints."""
        return {
            "metrics": self.metrics,
            "questions": [{"id": q.id, "ranked": list(q.ranked), "found": q.found} for q in self.questions],
        }


def ranked_keys(
    index: Index, question: str, depth: int, *, by_document: bool, retriever: RetrieverName | None
) -> tuple[list[str], bool, float | None, float | None]:
    """Rank keys for one question: ``FILE#PARAGRAPH`` (or document ids), duplicates expanded.

    Returns:
        The keys, whether the bot answers, the best cosine (or BM25 score for the lexical
        retriever) and the answerability probability.

    """
    ranking = index.rank(question, depth, retriever=retriever)
    keys: list[str] = []
    for hit in ranking.hits:
        for passage in (hit.passage, *hit.duplicates):
            key = passage.source if by_document else passage.key
            if key not in keys:
                keys.append(key)
    found, _, confidence = index.judge(ranking, retriever)
    best = ranking.best_cosine if ranking.best_cosine is not None else ranking.best_lexical
    return keys, found, best, confidence


def evaluate(
    index: Index,
    questions: Sequence[Question],
    *,
    k: int = 20,
    by_document: bool = False,
    retriever: RetrieverName | None = None,
) -> Report:
    """Run every question through the index and score the rankings.

    Args:
        index: The index to query.
        questions: Questions with their relevant keys.
        k: Depth of each ranking (at least the largest cut-off, 20).
        by_document: Rank document ids (BEIR) instead of ``FILE#PARAGRAPH`` keys.
        retriever: Overrides the index's retriever.

    """
    depth = max(k, max(RECALL_AT), RANK_AT)
    # One untimed question first: loading the model is not query latency.
    if questions:
        index.rank(questions[0].text, 1, retriever=retriever)
    results = []
    for question in questions:
        started = time.perf_counter()
        keys, found, best, confidence = ranked_keys(
            index, question.text, depth, by_document=by_document, retriever=retriever
        )
        results.append(QuestionResult(question.id, tuple(keys), found, best, time.perf_counter() - started, confidence))
    return Report(metrics(questions, results), tuple(results))


def decision_rule(index: Index, retriever: RetrieverName | None = None) -> str:
    """How this index decides to abstain, in one line for people (``qa eval`` prints it)."""
    mode = check_mode(retriever, index.settings.retriever)
    return describe(index.settings, mode, index.answerability(mode), index.manifest.model)


def _dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains in rank order."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def metrics(questions: Sequence[Question], results: Sequence[QuestionResult]) -> dict[str, float | int | None]:
    """Recall@k, MRR@10 and nDCG@10 on answerable questions; abstention on all.

    Abstention accuracy is the share of unanswerable questions where the bot abstained;
    the false-abstain rate is the share of answerable ones where it wrongly did.
    """
    answerable = [(q, r) for q, r in zip(questions, results, strict=True) if q.relevant]
    unanswerable = [(q, r) for q, r in zip(questions, results, strict=True) if not q.relevant]
    out: dict[str, float | int | None] = {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }
    for cut in RECALL_AT:
        values = [len(set(r.ranked[:cut]) & set(q.relevant)) / len(q.relevant) for q, r in answerable]
        out[f"recall@{cut}"] = float(np.mean(values)) if values else None
    reciprocal, ndcg = [], []
    for q, r in answerable:
        first = next((i for i, key in enumerate(r.ranked[:RANK_AT]) if key in q.relevant), None)
        reciprocal.append(0.0 if first is None else 1.0 / (first + 1))
        ideal = _dcg(sorted(q.relevant.values(), reverse=True)[:RANK_AT])
        ndcg.append(_dcg([q.relevant.get(key, 0.0) for key in r.ranked[:RANK_AT]]) / ideal if ideal else 0.0)
    out[f"mrr@{RANK_AT}"] = float(np.mean(reciprocal)) if reciprocal else None
    out[f"ndcg@{RANK_AT}"] = float(np.mean(ndcg)) if ndcg else None
    out["abstention_accuracy"] = float(np.mean([not r.found for _, r in unanswerable])) if unanswerable else None
    out["false_abstain_rate"] = float(np.mean([not r.found for _, r in answerable])) if answerable else None
    times = np.array([r.seconds for r in results]) * 1000
    out["latency_ms_p50"] = float(np.percentile(times, 50)) if len(times) else None
    out["latency_ms_p95"] = float(np.percentile(times, 95)) if len(times) else None
    return out
