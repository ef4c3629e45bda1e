"""Each embedding lever's effect on the seed dev questions (dense R@1 and MRR@10), as levers.py measures SQuAD.

Usage:
    python benchmarks/levers_seeds.py

The seeds (28 paragraphs) are too small to time, so only quality is printed: for each
graph variant of benchmarks/levers.py, the paragraphs and sentences a build embeds are
embedded with it (int8 variants one text per run, as the product does), and each
paragraph scores its cosine plus its best sentence's against the 18 answerable seed dev
questions (a development set), questions in fp32.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from levers import (
    Texts,
    batching_tokenizer,
    pooled_sentences,
    quality,
    side_by_side,
    sorted_batches,
    write_graphs,
)

from qa.embed import onnx
from qa.embed.embedder import SentenceTransformerEmbedder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> None:
    embedder = SentenceTransformerEmbedder()
    model = embedder._model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        answerable = [
            line
            for line in (ROOT / "tests" / "data" / "seed_questions.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["relevant"]
        ]
        (folder / "questions.jsonl").write_text("\n".join(answerable) + "\n", encoding="utf-8")
        texts = Texts(ROOT / "seeds", embedder, folder / "questions.jsonl")
        graphs = write_graphs(model, folder)
        tokenizer = batching_tokenizer(embedder)
        questions = sorted_batches(onnx.session(graphs["eager"]), tokenizer, 64)(texts.questions)
        done = {}
        for name, path in graphs.items():
            encode = side_by_side(onnx.session(path, 1), tokenizer)
            done[name] = (encode(texts.paragraphs), encode(texts.sentences))
        rows = [("PyTorch / fp32 SDPA export (before)", *done["sdpa"])]
        rows += [(name, *vectors) for name, vectors in done.items() if name != "sdpa"]
        rows.append(("int8 per channel for sentences only", done["eager"][0], done["int8 per channel"][1]))
        pooled, _ = pooled_sentences(model, texts, 32)
        rows.append(("sentences pooled from the paragraph's own pass", done["eager"][0], pooled))
    print(
        f"seeds: {len(texts.paragraphs)} paragraphs, {len(texts.sentences)} sentences, {len(texts.questions)} questions"
    )
    print("| lever (graph) | dense R@1 | dense MRR@10 |")
    print("| --- | ---: | ---: |")
    for name, paragraphs, sentences in rows:
        r1, mrr = quality(texts, questions, paragraphs, sentences)
        print(f"| {name} | {r1} | {mrr} |")


if __name__ == "__main__":
    main()
