"""Every retriever configuration on the seed dev questions, plus the shipped `qa eval`.

Usage:
    python benchmarks/seeds.py [--questions tests/data/seed_questions.jsonl] [--out benchmarks/data/seeds]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import CachedEmbedder, build_all, latency, save_json, sweep, table

import qa
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.eval.questions import read_questions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT = "hybrid minmax w=0.5"
COLUMNS = ["recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10", "abstention_accuracy", "false_abstain_rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "seed_questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "seeds")
    args = parser.parse_args()
    questions = read_questions(args.questions)
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    indexes = build_all(
        lambda name, settings, folder: qa.build_index(args.corpus, folder, settings=settings, embedder=embedder),
        args.out,
    )
    reports = sweep(indexes, questions, embedder)
    rows = {name: report.metrics for name, report in reports.items()}
    print(table(rows, COLUMNS))
    scores = {
        "answerable": sorted(
            round(r.best_score or 0, 3)
            for q, r in zip(questions, reports[DEFAULT].questions, strict=True)
            if q.relevant
        ),
        "unanswerable": sorted(
            round(r.best_score or 0, 3)
            for q, r in zip(questions, reports[DEFAULT].questions, strict=True)
            if not q.relevant
        ),
    }
    print("best cosine, answerable:", scores["answerable"])
    print("best cosine, unanswerable:", scores["unanswerable"])
    index = qa.load_index(indexes["default"].folder)
    lat = {r: latency(index, [q.text for q in questions] * 10, r) for r in ("dense", "lexical", "hybrid")}
    print("latency (ms):", lat)
    save_json(HERE / "results" / "seeds.json", {"metrics": rows, "best_cosine": scores, "latency_ms": lat})


if __name__ == "__main__":
    main()
