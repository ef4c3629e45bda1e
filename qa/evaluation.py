"""Measuring retrieval: question files, BEIR data sets, ranking metrics and abstention."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import RetrieverName
from .documents import Document, make_document
from .errors import EvalDataError
from .index import Index

#: Cut-offs reported for recall.
RECALL_AT = (1, 5, 10, 20)
#: Cut-off of MRR and nDCG.
RANK_AT = 10


@dataclass(frozen=True)
class Question:
    """One evaluation question and the keys that answer it (empty: nothing does).

    Attributes:
        id: The question's id.
        text: The question.
        relevant: Relevant keys (``FILE#PARAGRAPH`` or BEIR corpus ids) with their grade.

    """

    id: str
    text: str
    relevant: dict[str, float] = field(default_factory=dict)


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


def read_questions(path: str | Path) -> list[Question]:
    """Read a JSON-lines file of ``{"id", "question", "relevant": ["FILE#N", ...]}``.

    Raises:
        EvalDataError: The file is missing or a line is malformed.

    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read questions file {file}: {exc}") from exc
    questions: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            relevant = record.get("relevant", [])
            if not isinstance(relevant, list):
                raise TypeError("`relevant` must be a list")
            questions.append(
                Question(str(record.get("id", number)), str(record["question"]), {str(r): 1.0 for r in relevant})
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise EvalDataError(f"{file}:{number}: not a question record ({exc})") from exc
    if not questions:
        raise EvalDataError(f"{file} holds no questions")
    return questions


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file into a list of objects."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from exc
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path}:{number}: invalid JSON ({exc})") from exc
    return records


def read_beir(folder: str | Path, split: str = "test") -> tuple[list[Document], list[Question]]:
    """Read a data set in BEIR layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

    Only queries that have judgements in the split are returned.

    Raises:
        EvalDataError: A file is missing or malformed.

    """
    root = Path(folder)
    qrels_path = root / "qrels" / f"{split}.tsv"
    for path in (root / "corpus.jsonl", root / "queries.jsonl", qrels_path):
        if not path.is_file():
            raise EvalDataError(f"{path} not found: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/")
    documents = []
    for record in _read_jsonl(root / "corpus.jsonl"):
        try:
            documents.append(
                make_document(str(record["_id"]), str(record.get("text", "")), title=str(record.get("title") or ""))
            )
        except KeyError as exc:
            raise EvalDataError(f"{root / 'corpus.jsonl'}: a document has no _id") from exc
    queries = {str(r["_id"]): str(r["text"]) for r in _read_jsonl(root / "queries.jsonl") if "_id" in r}
    judged: dict[str, dict[str, float]] = {}
    rows = csv.reader(io.StringIO(qrels_path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")), delimiter="\t")
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
            continue
        if len(row) < 3:
            raise EvalDataError(f"{qrels_path}:{number}: expected query-id, corpus-id, score")
        judged.setdefault(row[0].strip(), {})[row[1].strip()] = float(row[2])
    questions = [
        Question(qid, queries[qid], {d: g for d, g in grades.items() if g > 0})
        for qid, grades in judged.items()
        if qid in queries
    ]
    if not questions:
        raise EvalDataError(f"{qrels_path} judges no query found in queries.jsonl")
    return [d for d in documents if d.text.strip()], questions


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
    settings = index.settings
    if settings.threshold is not None and index.settings.retriever != "lexical" and retriever != "lexical":
        return f"abstains when the best cosine is under {settings.threshold:g} (--threshold override)"
    model = index.answerability(retriever)
    floor = settings.min_confidence if settings.min_confidence is not None else model.abstain_below
    level = settings.confident_confidence if settings.confident_confidence is not None else model.confident_above
    if model.name != "generic":
        which = f"calibration for {model.name}"
    elif index.settings.retriever == "lexical" or retriever == "lexical":
        which = "generic calibration: keyword features, as the lexical retriever has no cosines"
    else:
        which = f"generic calibration: keyword features; none fitted for {index.manifest.model}"
    return f"abstains when P(answerable) < {floor:g}, weak match under {max(level, floor):g} ({which})"


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
