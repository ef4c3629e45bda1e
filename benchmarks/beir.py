"""Every retriever configuration on a data set in BEIR layout (default: the tiny test fixture).

Usage:
    python benchmarks/beir.py [DIR] [--split test]

Point it at any BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) to compare with
published tables; the shipped command for the default settings is `qa eval --beir DIR`.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from common import CachedEmbedder, build_all, latency, save_json, sweep, table

import qa
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.eval.questions import read_beir
from qa.index import build_from_documents

HERE = Path(__file__).resolve().parent
COLUMNS = ["recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, nargs="?", default=HERE.parent / "tests" / "data" / "beir_tiny")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "beir")
    args = parser.parse_args()
    documents, questions = read_beir(args.folder, args.split)
    print(f"{args.folder.name}: {len(documents)} documents, {len(questions)} judged queries")
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    builds = {}

    def build(name: str, settings: qa.Settings, folder: Path) -> qa.Index:
        started = time.perf_counter()
        index = build_from_documents(documents, folder, settings=settings, embedder=embedder)
        seconds = time.perf_counter() - started
        builds[name] = {"documents": len(documents), "seconds": seconds, "docs_per_s": len(documents) / seconds}
        print(f"build {name}: {builds[name]}")
        return index

    indexes = build_all(build, args.out / args.folder.name)
    reports = sweep(indexes, questions, embedder, by_document=True)
    rows = {name: report.metrics for name, report in reports.items()}
    print(table(rows, COLUMNS))
    sample = random.Random(0).sample([q.text for q in questions], min(500, len(questions)))
    index = qa.load_index(indexes["default"].folder)
    lat = {r: latency(index, sample * max(1, 200 // len(sample)), r) for r in ("dense", "lexical", "hybrid")}
    print("latency (ms):", lat)
    save_json(
        HERE / "results" / f"beir-{args.folder.name}.json", {"builds": builds, "metrics": rows, "latency_ms": lat}
    )


if __name__ == "__main__":
    main()
