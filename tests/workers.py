"""Subprocess roles for the concurrency tests: a builder and a reader, with the fake embedder.

python tests/workers.py build CORPUS INDEX [--delay SECONDS_PER_TEXT] [--small-batches]
python tests/workers.py read CORPUS INDEX --seconds S --versions N
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import FakeEmbedder

import qa
from qa.store import writer


def article(number: int, version: int) -> str:
    """The text of article ``number`` at ``version``: five paragraphs, the third varies."""
    paragraphs = [
        f"Article {number} opens with the harbour of town{number} and its fishing boats.",
        f"The market of town{number} sells bread, cheese and olives every morning.",
        f"Revision {version} of article {number} notes that the bridge{number} was repainted {version} times.",
        f"Winter in town{number} brings storms from the north sea and long nights.",
        f"The museum of town{number} keeps maps drawn by sailors centuries ago.",
    ]
    return "\n\n".join(paragraphs) + "\n"


class SlowEmbedder(FakeEmbedder):
    """The fake embedder, taking ``delay`` seconds per text, like a real model on a slow machine."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        time.sleep(self.delay * len(texts))
        return super().encode(texts, batch_size=batch_size, progress=progress)


def build(corpus: Path, index: Path, delay: float, small_batches: bool) -> None:
    if small_batches:
        writer.EMBED_BATCH = 8
        writer.CHUNK_PASSAGES = 40
    built = qa.build_index(corpus, index, embedder=SlowEmbedder(delay), notify=lambda m: print(m, file=sys.stderr))
    assert built.report is not None
    print(json.dumps({"passages": len(built), "embedded": built.report.embedded}))


def read(corpus: Path, index: Path, seconds: float, versions: int) -> None:
    """Load and answer in a loop; every quote must be some version of its file, verbatim."""
    embedder = FakeEmbedder()
    reads, errors = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            current = qa.load_index(index, embedder=embedder)
            answer = current.answer("Which revision notes that the bridge was repainted?", 3)
            for quote in answer.quotes:
                number = int(quote.source.split("_")[1].split(".")[0])
                texts = [article(number, v) for v in range(versions + 1)]
                if not any(t[quote.start_char : quote.end_char] == quote.text for t in texts):
                    errors.append(f"not verbatim: {quote.citation}: {quote.text!r}")
            reads += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"reads": reads, "errors": errors[:20], "error_count": len(errors)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["build", "read"])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("index", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--small-batches", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--versions", type=int, default=0)
    args = parser.parse_args()
    if args.role == "build":
        build(args.corpus, args.index, args.delay, args.small_batches)
    else:
        read(args.corpus, args.index, args.seconds, args.versions)


if __name__ == "__main__":
    main()
