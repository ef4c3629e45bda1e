"""SQuAD v1.1 dev as a paragraph-retrieval benchmark, plus abstention on a half split.

Usage:
    python benchmarks/squad.py [--squad ../shared/benchmarks/squad/dev-v1.1.json] [--out benchmarks/data/squad]

Writes a corpus folder (one file per article, paragraphs separated by blank lines) and
questions files, runs `qa eval` on it with the default settings, compares every
retriever configuration, measures latency and build rate, and calibrates the
abstention threshold on a half split (index half the articles, ask questions from the
other half, which nothing in the index answers). Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import time
from pathlib import Path

import numpy as np
from common import CachedEmbedder, Config, build_all, latency, rescore_abstention, save_json, sweep, table

import qa
from qa.cli import main as qa_main
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.eval.questions import read_questions

HERE = Path(__file__).resolve().parent
DEFAULT_SQUAD = HERE.parent.parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"
COLUMNS = ["recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10"]


def file_name(title: str) -> str:
    """A safe file name for an article title."""
    return re.sub(r"[^\w\-]+", "_", title).strip("_") + ".txt"


def convert(squad: Path, out: Path) -> dict[str, Path]:
    """Write the corpus folders and questions files; return their paths."""
    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    corpus, half = out / "corpus", out / "corpus_half"
    records, half_records = [], []
    for number, article in enumerate(data):
        name = file_name(article["title"])
        # A context is one paragraph: newlines inside it become spaces so numbering holds.
        paragraphs = [" ".join(p["context"].split()) for p in article["paragraphs"]]
        text = "\n\n".join(paragraphs) + "\n"
        indexed = number % 2 == 0
        for folder, keep in ((corpus, True), (half, indexed)):
            if keep:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(text, encoding="utf-8")
        for position, paragraph in enumerate(article["paragraphs"], start=1):
            for qa_item in paragraph["qas"]:
                key = f"{name}#{position}"
                records.append({"id": qa_item["id"], "question": qa_item["question"], "relevant": [key]})
                half_records.append(
                    {"id": qa_item["id"], "question": qa_item["question"], "relevant": [key] if indexed else []}
                )
    paths = {"corpus": corpus, "half": half, "questions": out / "questions.jsonl", "half_questions": out / "half.jsonl"}
    for path, rows in ((paths["questions"], records), (paths["half_questions"], half_records)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return paths


def calibrate(answerable: list[float], unanswerable: list[float]) -> float:
    """The threshold that maximises balanced accuracy of the answer/abstain decision."""
    candidates = np.round(np.arange(0.10, 0.70, 0.01), 2)
    a, u = np.array(answerable), np.array(unanswerable)
    scores = [((a >= t).mean() + (u < t).mean()) / 2 for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--out", type=Path, default=HERE / "data" / "squad")
    parser.add_argument("--latency-sample", type=int, default=1000)
    args = parser.parse_args()

    paths = convert(args.squad, args.out)
    questions = read_questions(paths["questions"])
    print(f"SQuAD dev: {len(questions)} questions over {len(list(paths['corpus'].glob('*.txt')))} articles")

    # Build the indexes (plain, default, with article context) and time the builds.
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    builds = {}

    def build(name: str, settings: qa.Settings, folder: Path) -> qa.Index:
        started = time.perf_counter()
        index = qa.build_index(paths["corpus"], folder, settings=settings, embedder=embedder, progress=True)
        assert index.report is not None
        seconds = time.perf_counter() - started
        builds[name] = {"paragraphs": index.report.passages, "embedded": index.report.embedded, "seconds": seconds}
        print(f"build {name}: {builds[name]}")
        return index

    indexes = build_all(build, args.out)

    # The shipped CLI, default settings, exactly as a user would run it (its index starts
    # as a copy of the default one, so that nothing is embedded twice).
    if not (paths["corpus"] / ".qa-index").exists():
        shutil.copytree(indexes["default"].folder, paths["corpus"] / ".qa-index")
    print(f"\n$ qa eval {paths['questions']} --corpus {paths['corpus']}")
    qa_main(["eval", str(paths["questions"]), "--corpus", str(paths["corpus"])])

    # Every configuration on all questions.
    print("\nretriever configurations (question vectors cached):")
    reports = sweep(indexes, questions, embedder)
    rows = {name: report.metrics for name, report in reports.items()}
    print(table(rows, COLUMNS))

    # Latency per question, embedding included (no cache), on a fixed sample.
    sample = random.Random(0).sample([q.text for q in questions], min(args.latency_sample, len(questions)))
    lat = {}
    for retriever in ("dense", "lexical", "hybrid"):
        lat[retriever] = latency(qa.load_index(indexes["default"].folder), sample, retriever)
        print(f"latency {retriever}: {lat[retriever]}")

    # Abstention: index half the articles, ask all questions.
    half_questions = read_questions(paths["half_questions"])
    half_folder = args.out / "index-half"
    if not half_folder.exists():
        # Start from the full index so that the half's paragraphs reuse their vectors.
        shutil.copytree(indexes["default"].folder, half_folder)
    half_index = qa.build_index(paths["half"], half_folder, embedder=embedder, progress=True)
    half_reports = sweep(
        {"default": half_index}, half_questions, embedder, configs=[Config("default", "default", qa.Settings())]
    )
    results = next(iter(half_reports.values()))
    scores = {q.id: r.best_score for q, r in zip(half_questions, results.questions, strict=True)}
    answerable = [scores[q.id] for q in half_questions if q.relevant]
    unanswerable = [scores[q.id] for q in half_questions if not q.relevant]
    best = calibrate(answerable, unanswerable)  # type: ignore[arg-type]
    shipped = qa.Settings().abstain_below
    abstention = {
        f"threshold {t:.2f}{' (shipped)' if t == shipped else ''}": rescore_abstention(
            half_questions, results.questions, t
        )
        for t in sorted({shipped, best, 0.25, 0.30, 0.33, 0.35, 0.40, 0.45})
    }
    print(f"\nbalanced-accuracy threshold on the half split: {best}")
    print(table(abstention, ["abstention_accuracy", "false_abstain_rate"]))
    print("best-cosine quantiles, answerable:", np.percentile(answerable, [5, 25, 50, 75]).round(3).tolist())
    print("best-cosine quantiles, unanswerable:", np.percentile(unanswerable, [50, 75, 95, 99]).round(3).tolist())

    save_json(
        HERE / "results" / "squad.json",
        {"builds": builds, "metrics": rows, "latency_ms": lat, "abstention": abstention, "calibrated": best},
    )


if __name__ == "__main__":
    main()
