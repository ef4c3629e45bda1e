"""Build rate as a person sees it: a fresh `qa index` process against PyTorch on the same paragraphs.

Usage:
    python benchmarks/build_rate.py [--corpus benchmarks/data/squad/corpus] [--articles 16] [--runs 3]

Run benchmarks/squad.py first to write the SQuAD corpus folder. Every measurement is a
fresh process timed from the outside, process start and model load included, repeated
``--runs`` times in turn (medians reported):

- ``SentenceTransformer.encode`` (PyTorch, batch 32) of exactly the paragraph texts the
  index embeds (windows of long paragraphs included; no sentences), the reference;
- ``qa index`` into an empty folder with the defaults (paragraphs and sentences embedded,
  int8 document vectors);
- ``qa index --no-int8`` (the same in fp32);
- ``qa index --no-sentences`` (int8, paragraphs only).

Before the timed runs, one build of a single article makes the model's ONNX export and
its int8 twin (once per machine, like the install). Then one file is edited and the
update timed (a fresh process again).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save_json

import qa
from qa.build.splitting import embedding_inputs, split_document
from qa.embed.embedder import resolve_model_path
from qa.embed.loader import load_embedder

HERE = Path(__file__).resolve().parent
QA = [sys.executable, "-m", "qa"]

PYTORCH = """
import json, sys
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[1], encoding="utf-8"))
model = SentenceTransformer(sys.argv[2], device="cpu", local_files_only=True)
model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
"""


def seconds(command: list[str]) -> float:
    """Wall time of ``command`` in a fresh process (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "data" / "squad" / "corpus")
    parser.add_argument("--articles", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus"
        corpus.mkdir()
        for path in sorted(args.corpus.glob("*.txt"))[: args.articles]:
            shutil.copy(path, corpus / path.name)
        embedder = load_embedder(qa.Settings().model)
        settings = qa.Settings()
        # Reading and splitting, timed: what a pipeline could overlap with the embedding.
        started = time.perf_counter()
        documents = qa.read_corpus(corpus).documents
        for document in documents:
            split_document(document, embedder, settings)
        read_split = time.perf_counter() - started
        texts = [
            text
            for document in documents
            for passage in qa.split_passages(document)
            for text in embedding_inputs(document, passage, embedder, settings)[1]
        ]
        paragraphs = sum(len(qa.split_passages(document)) for document in documents)
        (folder / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
        # The export and its int8 twin, made once per machine (not timed).
        warm = folder / "warm"
        warm.mkdir()
        shutil.copy(sorted(corpus.glob("*.txt"))[0], warm)
        subprocess.run([*QA, "index", str(warm), "--out", str(folder / "warm-index"), "--quiet"], check=True)
        commands = {
            "PyTorch encode, paragraphs only": [
                sys.executable,
                "-c",
                PYTORCH,
                str(folder / "texts.json"),
                resolve_model_path(settings.model),
            ],
            "qa index (default: sentences, int8)": [*QA, "index", str(corpus), "--quiet"],
            "qa index --no-int8": [*QA, "index", str(corpus), "--quiet", "--no-int8"],
            "qa index --no-sentences": [*QA, "index", str(corpus), "--quiet", "--no-sentences"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for run in range(args.runs):
            for name, command in commands.items():
                if command[1] == "-m":
                    out = folder / f"index-{run}-{len(times[name])}-{abs(hash(name))}"
                    command = [*command, "--out", str(out)]
                times[name].append(seconds(command))
                print(f"run {run + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
        edited = sorted(corpus.glob("*.txt"))[0]
        edited.write_text(edited.read_text(encoding="utf-8") + "\n\nA new closing paragraph.\n", encoding="utf-8")
        index = next(folder.glob("index-0-*"))
        incremental = seconds([*QA, "index", str(corpus), "--out", str(index), "--quiet"])
    reference = statistics.median(times["PyTorch encode, paragraphs only"])
    rows = {}
    for name, values in times.items():
        median = statistics.median(values)
        rows[name] = {
            "seconds_median": round(median, 2),
            "seconds_each": [round(v, 2) for v in values],
            "paragraphs_per_s": round(paragraphs / median, 1),
            "times_pytorch_rate": round(reference / median, 2),
        }
    result = {
        "articles": args.articles,
        "paragraphs": paragraphs,
        "paragraph_texts": len(texts),
        "runs": args.runs,
        "rows": rows,
        "update_after_one_edit_seconds": round(incremental, 2),
        "reading_and_splitting_seconds": round(read_split, 2),
    }
    print(json.dumps(result, indent=1))
    print(f"\n{args.articles} SQuAD dev articles, {paragraphs} paragraphs ({len(texts)} texts); medians of {args.runs}")
    print("| what (a fresh process each, start and model load included) | seconds | paragraphs/s | × PyTorch |")
    print("| --- | ---: | ---: | ---: |")
    for name, row in rows.items():
        print(f"| {name} | {row['seconds_median']} | {row['paragraphs_per_s']} | {row['times_pytorch_rate']} |")
    print(f"| the update after one file was edited | {result['update_after_one_edit_seconds']} | | |")
    share = read_split / rows["qa index (default: sentences, int8)"]["seconds_median"]
    print(f"reading and splitting (what a pipeline could overlap): {read_split:.2f} s, {share:.1%} of the build")
    save_json(HERE / "results" / "build_rate.json", result)


if __name__ == "__main__":
    main()
