"""Index build rate on 2 cores: a fresh build (nothing reused) and an incremental one.

Usage:
    python benchmarks/build_rate.py [--corpus benchmarks/data/squad/corpus] [--articles 8]

Run benchmarks/squad.py first to write the SQuAD corpus folder. The first build embeds
every paragraph; the second, after one file is edited, re-embeds only that file.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from common import save_json

import qa

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "data" / "squad" / "corpus")
    parser.add_argument("--articles", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for path in sorted(args.corpus.glob("*.txt"))[: args.articles]:
            shutil.copy(path, corpus / path.name)
        embedder = qa.index.SentenceTransformerEmbedder()
        started = time.perf_counter()
        index = qa.build_index(corpus, Path(tmp) / "index", embedder=embedder)
        fresh = time.perf_counter() - started
        report = index.report
        assert report is not None
        edited = sorted(corpus.glob("*.txt"))[0]
        edited.write_text(edited.read_text(encoding="utf-8") + "\nA new closing paragraph.\n", encoding="utf-8")
        started = time.perf_counter()
        again = qa.build_index(corpus, Path(tmp) / "index", embedder=embedder)
        incremental = time.perf_counter() - started
        assert again.report is not None
    result = {
        "files": report.files,
        "paragraphs": report.passages,
        "vectors": report.vectors,
        "fresh_seconds": round(fresh, 2),
        "paragraphs_per_s": round(report.passages / fresh, 2),
        "vectors_per_s": round(report.vectors / fresh, 2),
        "incremental_seconds": round(incremental, 2),
        "incremental_embedded": again.report.embedded,
        "incremental_reused": again.report.reused,
    }
    print(result)
    save_json(HERE / "results" / "build_rate.json", result)


if __name__ == "__main__":
    main()
