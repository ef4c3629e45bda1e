"""Every retriever configuration on the seed dev questions, plus the shipped `qa eval`.

Usage:
    python benchmarks/seeds.py [--questions tests/data/seed_questions.jsonl] [--out benchmarks/data/seeds]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import CachedEmbedder, latency, save_json, sweep, table

import qa
from qa.embedding import SentenceTransformerEmbedder
from qa.evaluation import read_questions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COLUMNS = ["recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10", "abstention_accuracy", "false_abstain_rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "seed_questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "seeds")
    args = parser.parse_args()
    questions = read_questions(args.questions)
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    indexes = {
        name: qa.build_index(args.corpus, args.out / name, settings=qa.Settings(context=context), embedder=embedder)
        for name, context in (("plain", False), ("context", True))
    }
    reports = sweep(indexes, questions, embedder)
    rows = {name: report.metrics for name, report in reports.items()}
    print(table(rows, COLUMNS))
    scores = {
        "answerable": sorted(
            round(r.best_score or 0, 3)
            for q, r in zip(questions, reports["hybrid minmax w=0.6"].questions, strict=True)
            if q.relevant
        ),
        "unanswerable": sorted(
            round(r.best_score or 0, 3)
            for q, r in zip(questions, reports["hybrid minmax w=0.6"].questions, strict=True)
            if not q.relevant
        ),
    }
    print("best cosine, answerable:", scores["answerable"])
    print("best cosine, unanswerable:", scores["unanswerable"])
    lat = latency(qa.load_index(indexes["context"].folder), [q.text for q in questions] * 5)
    print("latency hybrid (ms):", lat)
    save_json(HERE / "results" / "seeds.json", {"metrics": rows, "best_cosine": scores, "latency_ms": lat})


if __name__ == "__main__":
    main()
