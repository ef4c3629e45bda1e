"""The index at 10^4, 10^5 and 10^6 paragraphs, with a fast stand-in embedder.

Usage:
    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--out benchmarks/data/scale]

Each paragraph is a SQuAD v1.1 dev paragraph made unique with a numbered suffix; files
hold 100 paragraphs each. Vectors come from a deterministic hashing embedder (words
hashed onto fixed random directions), so everything but the model is measured; the
model's own rate is measured by benchmarks/build_rate.py. Builds and searches run in
separate processes so that each peak RSS is its own. Question embedding is excluded
from search times (question vectors are computed before timing). Prints one table and
writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import CachedEmbedder  # noqa: E402

import qa  # noqa: E402
from qa.embed.embedder import token_windows  # noqa: E402

DEFAULT_SQUAD = HERE.parent.parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"
PER_FILE = 100
_WORD = re.compile(r"\w+")


class HashEmbedder:
    """A fast deterministic stand-in: each word adds a fixed random direction; vectors are normalised."""

    def __init__(self, dimension: int = 384, buckets: int = 1 << 15) -> None:
        self._dimension = dimension
        self._table = np.random.default_rng(0).standard_normal((buckets, dimension)).astype(np.float32)
        self._buckets = buckets
        self._ids: dict[str, int] = {}

    @property
    def name(self) -> str:
        return "hash-embedder"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return 512

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def windows(self, text: str, budget: int, overlap: int) -> list[tuple[int, int]]:
        if len(text) < budget * 2:
            return [(0, len(text))]
        return token_windows([m.span() for m in _WORD.finditer(text)], len(text), budget, overlap)

    def _bucket(self, word: str) -> int:
        found = self._ids.get(word)
        if found is None:
            found = self._ids[word] = zlib.crc32(word.encode()) % self._buckets
        return found

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = [self._bucket(w) for w in _WORD.findall(text.lower())]
            if ids:
                out[row] = self._table[ids].sum(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def squad(path: Path) -> tuple[list[str], list[str]]:
    """SQuAD dev paragraphs (one line each) and questions."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [" ".join(p["context"].split()) for a in data for p in a["paragraphs"]]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    return paragraphs, questions


def make_corpus(folder: Path, size: int, paragraphs: list[str]) -> None:
    """``size`` unique paragraphs, ``PER_FILE`` per file, blank lines between them."""
    if folder.is_dir() and len(list(folder.iterdir())) == size // PER_FILE:
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for number in range(size // PER_FILE):
        start = number * PER_FILE
        chunk = [f"{paragraphs[i % len(paragraphs)]} (copy {i})" for i in range(start, start + PER_FILE)]
        (folder / f"file_{number:05d}.txt").write_text("\n\n".join(chunk) + "\n", encoding="utf-8")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_mb(folder: Path) -> float:
    """Size of a folder's files in MB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def role_build(corpus: Path, index: Path) -> dict[str, float]:
    """Build the index from scratch; report rate and peak memory."""
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    built = qa.build_index(corpus, index, embedder=HashEmbedder())
    seconds = time.perf_counter() - started
    return {
        "paragraphs": len(built),
        "build_s": seconds,
        "build_rate": len(built) / seconds,
        "build_peak_rss_mb": peak_rss_mb(),
        "base_kind": built.snapshot.base.kind if built.snapshot.base else "none",
    }


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def role_serve(corpus: Path, index_folder: Path, questions: list[str]) -> dict[str, float]:
    """Open, search, answer, apply one edit; then recall of the vector index against exact search."""
    embedder = CachedEmbedder(HashEmbedder())  # type: ignore[arg-type]
    embedder.prime(questions)
    started = time.perf_counter()
    index = qa.load_index(index_folder, embedder=embedder)  # type: ignore[arg-type]
    result: dict[str, float] = {"open_ms": (time.perf_counter() - started) * 1000}
    for retriever in ("dense", "lexical", "hybrid"):
        index.search(questions[0], k=10, retriever=retriever)  # type: ignore[arg-type]
        times = []
        for question in questions:
            start = time.perf_counter()
            index.search(question, k=10, retriever=retriever)  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
        result[f"{retriever}_p50_ms"], result[f"{retriever}_p95_ms"] = percentiles(times)
    times = []
    for question in questions[:50]:
        start = time.perf_counter()
        index.answer(question)
        times.append(time.perf_counter() - start)
    result["answer_p50_ms"], result["answer_p95_ms"] = percentiles(times)
    # One edited file: time until a search finds the new text, as `qa serve` would serve it.
    files = sorted(corpus.iterdir())
    target = files[len(files) // 2]
    lines = target.read_text(encoding="utf-8").split("\n\n")
    # A new text each run (the corpus folder is kept between runs).
    lines[50] = f"The zyxwvut observatory in file {target.name} opened on run {time.time_ns()}."
    target.write_text("\n\n".join(lines), encoding="utf-8")
    seen: dict[str, float] = {}
    edit_started = time.perf_counter()

    def served(_generation: int) -> None:
        fresh = qa.load_index(index_folder, embedder=embedder, reuse=index.snapshot.frozen)  # type: ignore[arg-type]
        hits = fresh.search("zyxwvut observatory", k=1, retriever="lexical")
        if hits and hits[0].source == target.name and "searchable_s" not in seen:
            seen["searchable_s"] = time.perf_counter() - edit_started

    qa.build_index(corpus, index_folder, embedder=embedder.inner, on_commit=served)
    result["edit_searchable_s"] = seen.get("searchable_s", float("nan"))
    result["edit_update_s"] = time.perf_counter() - edit_started
    result["serve_peak_rss_mb"] = peak_rss_mb()
    result["recall_at_10"] = recall_at_10(index_folder, embedder, questions[:100])
    return result


def recall_at_10(folder: Path, embedder: CachedEmbedder, questions: list[str]) -> float:
    """Share of the exact top-10 vectors that the index's vector search returns."""
    import sqlite3

    index = qa.load_index(folder, embedder=embedder)  # type: ignore[arg-type]
    if index.snapshot.base is None or index.snapshot.base.kind == "flat":
        return 1.0
    with sqlite3.connect(folder / "index.db") as connection:
        rows = connection.execute(
            "SELECT w.id, e.vector FROM windows w JOIN embeddings e ON e.sha256 = w.sha256"
        ).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    del rows
    found = []
    for question in questions:
        vector = embedder.cache[question]
        exact = set(ids[np.argsort(-(matrix @ vector))[:10]].tolist())
        got, _ = index.snapshot.base.search(vector, 10, np.zeros(0, dtype=np.int64))
        found.append(len(exact & set(got.tolist())) / 10)
    return float(np.mean(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=HERE / "data" / "scale")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--role", choices=["build", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    paragraphs, questions = squad(args.squad)
    questions = random.Random(0).sample(questions, args.questions)
    if args.role:
        corpus, index = args.out / f"corpus-{args.size}", args.out / f"index-{args.size}"
        measured = role_build(corpus, index) if args.role == "build" else role_serve(corpus, index, questions)
        print(json.dumps(measured))
        return
    rows = []
    for size in args.sizes:
        corpus = args.out / f"corpus-{size}"
        make_corpus(corpus, size, paragraphs)
        row: dict[str, float] = {"size": size}
        for role in ("build", "serve"):
            command = [sys.executable, __file__, "--role", role, "--size", str(size), "--out", str(args.out)]
            command += ["--squad", str(args.squad), "--questions", str(args.questions)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            row.update(json.loads(output.strip().splitlines()[-1]))
            print(f"{size:>9} {role}: {json.dumps(row)}", flush=True)
        row["disk_mb"] = folder_mb(args.out / f"index-{size}")
        rows.append(row)
    print()
    header = (
        "| paragraphs | build rate (/s) | open (ms) | dense p50/p95 (ms) | lexical p50/p95 | hybrid p50/p95 "
        "| answer p50 | edit searchable (s) | build / serve peak RSS (MB) | disk (MB) | vectors | recall@10 |"
    )
    print(header)
    print("| ---: " * 12 + "|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['build_rate']:.0f} | {r['open_ms']:.0f} "
            f"| {r['dense_p50_ms']:.1f} / {r['dense_p95_ms']:.1f} "
            f"| {r['lexical_p50_ms']:.1f} / {r['lexical_p95_ms']:.1f} "
            f"| {r['hybrid_p50_ms']:.1f} / {r['hybrid_p95_ms']:.1f} | {r['answer_p50_ms']:.1f} "
            f"| {r['edit_searchable_s']:.2f} | {r['build_peak_rss_mb']:.0f} / {r['serve_peak_rss_mb']:.0f} "
            f"| {r['disk_mb']:.0f} | {r['base_kind']} | {r['recall_at_10']:.3f} |"
        )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "scale.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
