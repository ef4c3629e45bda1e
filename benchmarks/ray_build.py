"""Index build rate on this machine: local, and with --ray on 1 and 2 workers; and whether the results are the same.

Usage:
    python benchmarks/ray_build.py [--squad ../shared/benchmarks/squad/dev-v1.1.json] [--articles 48]
                                   [--questions 0]

Writes the SQuAD dev corpus (one file per article, as benchmarks/squad.py does) to a
temporary folder, then builds it from nothing three times with the real model: in this
process; on a local Ray instance (2 CPUs, on 127.0.0.1) with one embedding actor; and with
two. Each Ray build is compared with the local one: the same files, passages, citations,
windows and sentences, vectors within 1e-5, and the same top 10 for every dev question
(``--questions N`` checks the first N only; 0: all). Results go to
benchmarks/results/ray_build.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import save_json
from squad import DEFAULT_SQUAD, convert

import qa
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.eval.questions import read_questions

HERE = Path(__file__).resolve().parent
# The comparison of two stores is test support (tests/support/identity.py).
sys.path.insert(0, str(HERE.parent / "tests"))

from support.identity import compare_stores, ranking_differences  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--questions", type=int, default=0)
    args = parser.parse_args()
    # A local instance on loopback only, and no usage report.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from qa.build.cluster import connect

    with tempfile.TemporaryDirectory() as tmp:
        paths = convert(args.squad, Path(tmp) / "squad")
        corpus = paths["corpus"]
        for extra in sorted(corpus.glob("*.txt"))[args.articles :]:
            extra.unlink()
        kept = {p.name for p in corpus.glob("*.txt")}
        questions = [
            q.text for q in read_questions(paths["questions"]) if any(key.split("#")[0] in kept for key in q.relevant)
        ]
        if args.questions:
            questions = questions[: args.questions]
        embedder = SentenceTransformerEmbedder()
        # Warm up (model load, ONNX export) before any timing.
        embedder.encode(["warm up"] * 40)
        runs: dict[str, dict[str, float]] = {}
        started = time.perf_counter()
        local = qa.build_index(corpus, Path(tmp) / "local", embedder=embedder)
        seconds = time.perf_counter() - started
        assert local.report is not None
        passages, embedded = local.report.passages, local.report.embedded
        runs["local"] = {"seconds": seconds, "paragraphs_per_s": passages / seconds, "texts_per_s": embedded / seconds}
        for workers in (1, 2):
            name = f"ray, {workers} worker{'s' if workers > 1 else ''}"
            started = time.perf_counter()
            backend = connect(None, workers=workers)
            joined = time.perf_counter() - started
            out = Path(tmp) / f"ray{workers}"
            try:
                built = qa.build_index(corpus, out, embedder=embedder, backend=backend)
            finally:
                backend.close()
            seconds = time.perf_counter() - started
            assert built.report is not None and built.report.embedded == embedded
            comparison = compare_stores(local.folder, out)
            differing = ranking_differences(local, qa.load_index(out, embedder=embedder), questions, k=10)
            runs[name] = {
                "seconds": seconds,
                "start_s": joined,
                "paragraphs_per_s": passages / seconds,
                "texts_per_s": embedded / seconds,
                "overhead": seconds / runs["local"]["seconds"] - 1,
                "same_rows": float(not comparison.different and not comparison.missing_vectors),
                "max_vector_difference": comparison.max_difference,
                "questions_checked": len(questions),
                "top10_differences": len(differing),
            }
    print(f"SQuAD dev, {args.articles} articles: {passages} paragraphs, {embedded} texts embedded (with sentences)")
    print("| build | s | paragraphs/s | texts/s | against local | same rows | max vector diff | top-10 differences |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for name, run in runs.items():
        against = f"{run['overhead']:+.0%}" if "overhead" in run else "—"
        same = ("yes" if run["same_rows"] else "NO") if "same_rows" in run else "—"
        diff = f"{run['max_vector_difference']:.1e}" if "max_vector_difference" in run else "—"
        top = (
            f"{int(run['top10_differences'])} of {int(run['questions_checked'])}" if "top10_differences" in run else "—"
        )
        print(
            f"| {name} | {run['seconds']:.1f} | {run['paragraphs_per_s']:.1f} | {run['texts_per_s']:.1f} | {against} "
            f"| {same} | {diff} | {top} |"
        )
    save_json(
        HERE / "results" / "ray_build.json",
        {"articles": args.articles, "paragraphs": passages, "embedded": embedded, "runs": runs},
    )


if __name__ == "__main__":
    main()
