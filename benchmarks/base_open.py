"""Opening a base vector file: read into memory (what a snapshot does since issue 21) against memory-mapped.

Usage:
    python benchmarks/base_open.py [--vectors 30000 200000] [--questions 20]

For each size it writes a base file of random unit vectors with the product's writer
(``qa.store.vectors.write_base``: exact up to 40,000 vectors, IVF above), then, each in a
fresh process: opens it as a snapshot does now (``BaseVectors.open``: read once, hashed,
deserialised from the same bytes), the same trusting the stamps (no hash), and
memory-mapped as before (``faiss.read_index`` with ``IO_FLAG_MMAP_IFC``). It prints the
time to open, the time of the first and of the next ``--questions`` searches, and the
process's RSS after them. A memory-mapped file is what a truncation under a server turned
into SIGBUS; the copy is what it costs not to be.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 384


def rss_mb() -> float:
    """This process's resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(path: Path, sha256: str, count: int, mode: str, questions: int) -> dict[str, float]:
    """Open ``path`` the ``mode`` way, search; times in ms and RSS in MB (run in a fresh process)."""
    import faiss

    from qa.store.vectors import BaseVectors

    queries = np.random.default_rng(1).standard_normal((questions + 1, DIMENSION)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    before = rss_mb()
    started = time.perf_counter()
    if mode == "mapped":
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        base = BaseVectors(index, path, sha256)
    else:
        base = BaseVectors.open(path, sha256=sha256, count=count, dimension=DIMENSION, verify=mode == "copy, hashed")
    opened = time.perf_counter() - started
    empty = np.zeros(0, dtype=np.int64)
    started = time.perf_counter()
    base.search(queries[0], 10, empty)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for query in queries[1:]:
        base.search(query, 10, empty)
    rest = (time.perf_counter() - started) / questions
    return {"open_ms": opened * 1000, "first_ms": first * 1000, "search_ms": rest * 1000, "rss_mb": rss_mb() - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, nargs="+", default=[30_000, 200_000])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, sha256, count, mode, questions = args.child
        print(json.dumps(measure(Path(path), sha256, int(count), mode, int(questions))))
        return
    from qa.store.vectors import write_base

    print("| vectors | file MB | open | open ms | first search ms | search ms | RSS after (MB) |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.vectors:
            rng = np.random.default_rng(0)
            vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = np.arange(count, dtype=np.int64)
            path = Path(tmp) / f"vectors-{count}.faiss"
            sha256 = write_base(path, lambda ids=ids, vectors=vectors: [(ids, vectors)], count, DIMENSION)
            size = path.stat().st_size / 2**20
            for mode in ("mapped", "copy, hashed", "copy, stamped"):
                child = [sys.executable, __file__, "--child", str(path), sha256, str(count), mode, str(args.questions)]
                row = json.loads(subprocess.run(child, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
                print(
                    f"| {count:,} | {size:.0f} | {mode} | {row['open_ms']:.0f} | {row['first_ms']:.1f} | "
                    f"{row['search_ms']:.2f} | {row['rss_mb']:.0f} |"
                )


if __name__ == "__main__":
    main()
