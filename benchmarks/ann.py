"""Where exact vector search stops being fast enough: flat against IVF, one question at a time.

Usage:
    python benchmarks/ann.py [--sizes 10000 20000 50000 100000] [--questions 200]

Vectors come from the stand-in embedder of benchmarks/scale.py over SQuAD dev paragraphs
made unique with a numbered suffix. For each size it times a single-question search on
one thread (as the index runs it) with exact flat inner product (FAISS, and numpy), and
with the IVF index the writer would build at that size (qa.store.vectors: lists and probes), and
reports IVF's recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import faiss
import numpy as np
from scale import DEFAULT_SQUAD, HashEmbedder, squad

from qa.store.vectors import list_count, probe_count

faiss.omp_set_num_threads(1)


def per_question_ms(search: object, queries: np.ndarray) -> float:
    """Median time of one single-question search, in ms."""
    times = []
    for query in queries:
        start = time.perf_counter()
        search(query)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000, 50_000, 100_000])
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    paragraphs, questions = squad(DEFAULT_SQUAD)
    embedder = HashEmbedder()
    queries = embedder.encode(random.Random(0).sample(questions, args.questions))
    largest = max(args.sizes)
    texts = [f"{paragraphs[i % len(paragraphs)]} (copy {i})" for i in range(largest)]
    vectors = np.concatenate([embedder.encode(texts[s : s + 10_000]) for s in range(0, largest, 10_000)])
    print("| vectors | exact FAISS flat (ms) | exact numpy (ms) | IVF lists / probes | IVF (ms) | IVF recall@10 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        matrix = vectors[:size]
        flat = faiss.IndexFlatIP(matrix.shape[1])
        flat.add(matrix)
        exact = flat.search(queries, 10)[1]
        flat_ms = per_question_ms(lambda q, flat=flat: flat.search(q[None, :], 10), queries)
        numpy_ms = per_question_ms(lambda q, matrix=matrix: np.argpartition(-(matrix @ q), 10)[:10], queries)
        lists = list_count(size)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        ivf.train(matrix[:: max(1, size // (64 * 1024))])
        ivf.add(matrix)
        ivf.nprobe = probe_count(lists)
        found = ivf.search(queries, 10)[1]
        recall = np.mean([len(set(found[i]) & set(exact[i])) / 10 for i in range(len(queries))])
        ivf_ms = per_question_ms(lambda q, ivf=ivf: ivf.search(q[None, :], 10), queries)
        print(
            f"| {size:,} | {flat_ms:.2f} | {numpy_ms:.2f} | {lists} / {ivf.nprobe} | {ivf_ms:.2f} | {recall:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
