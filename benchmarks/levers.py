"""Each lever on the embedding time of a build, and what it does to retrieval, on the same texts.

Usage:
    python benchmarks/levers.py [--corpus benchmarks/data/squad/corpus] [--articles 16]

Run benchmarks/squad.py first to write the SQuAD corpus folder. In one process, on the
first ``--articles`` SQuAD dev articles, it embeds exactly the texts a build embeds
(paragraph windows with their context prefix, and each sentence on its own) with every
variant below, and times it (after a warm-up batch). Speed-ups are against today's
shipped path before issue 20 (the SDPA export in fp32) and against
``SentenceTransformer.encode`` (PyTorch, batch 32).

Quality is a dense-only proxy measured on those articles' SQuAD dev questions (a
development set): each paragraph scores its cosine to the question plus its best
sentence's (the shipped ``sentence_share`` of 0.5), questions always embedded in fp32.
R@1 and MRR@10 of that score say whether a variant's vectors rank as well; the full
hybrid pipeline of the shipped default is measured by ``qa eval`` (docs/benchmarks.md).

Variants: the graph exported with PyTorch's SDPA attention (before) or plain attention
(fused by onnxruntime), onnxruntime's transformer optimiser on top, threads that spin
between operators or sleep (the question encoder sleeps, for concurrent answers), batch
sizes 32, 8 and 1 (batches sorted by length), one thread against two, one text per
single-threaded run with a run per core side by side (how the product embeds documents),
dynamic int8 quantisation per tensor (the issue's first try), per channel, and per
channel with 7-bit range, for every vector or for the sentence vectors only; sentence
vectors pooled from the paragraph's own forward pass ("late chunking": one pass, no
sentence texts). For int8 in batches it also prints how far a vector moves when its text
is embedded alone (activations are quantised with one range per run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import save_json

import qa
from qa.build.splitting import embedding_inputs, sentence_inputs
from qa.embed import onnx
from qa.embed.embedder import SentenceTransformerEmbedder

HERE = Path(__file__).resolve().parent
Encode = Callable[[Sequence[str]], np.ndarray]


class Texts:
    """What a build of the chosen articles embeds, and the questions about them."""

    def __init__(self, corpus: Path, embedder: SentenceTransformerEmbedder, questions: Path) -> None:
        settings = qa.Settings()
        self.ids: list[str] = []
        self.paragraphs: list[str] = []
        self.sentences: list[str] = []
        #: For each sentence: its paragraph's row and its character span in that paragraph's text.
        self.owner: list[int] = []
        self.spans: list[tuple[int, int]] = []
        for document in qa.read_corpus(corpus).documents:
            for passage in qa.split_passages(document):
                windows, inputs = embedding_inputs(document, passage, embedder, settings)
                # The first window's text: the prefix, then the paragraph from the window's start.
                text = inputs[0]
                offset = len(text) - (windows[0][1] - windows[0][0]) - windows[0][0]
                self.ids.append(f"{document.source}#{passage.paragraph}")
                self.paragraphs.append(text)
                spans, said = sentence_inputs(passage)
                for (start, end), sentence in zip(spans, said, strict=True):
                    self.owner.append(len(self.ids) - 1)
                    self.spans.append((offset + start, offset + end))
                    self.sentences.append(sentence)
        names = {path.name for path in corpus.iterdir()}
        rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [row for row in rows if row["relevant"][0].split("#")[0] in names]
        self.questions = [row["question"] for row in rows]
        self.gold = np.array([self.ids.index(row["relevant"][0]) for row in rows])


def timed(encode: Encode, texts: Sequence[str]) -> tuple[np.ndarray, float]:
    """Vectors of ``texts`` and the seconds it took (after a warm-up batch)."""
    encode(texts[:32])
    started = time.perf_counter()
    vectors = encode(texts)
    return vectors, time.perf_counter() - started


def sorted_batches(session: object, tokenizer: object, batch_size: int) -> Encode:
    """An encoder over an onnxruntime session: batches of similar length, as the product embeds."""

    def encode(texts: Sequence[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])  # type: ignore[attr-defined]
            inputs = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            out[rows] = session.run(None, inputs)[0]  # type: ignore[attr-defined]
        return out

    return encode


def side_by_side(session: object, tokenizer: object) -> Encode:
    """One text per run on a single-threaded session, one run per core at once (as the product embeds documents)."""
    from concurrent.futures import ThreadPoolExecutor

    single = sorted_batches(session, tokenizer, 1)

    def encode(texts: Sequence[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
            for i, vector in zip(order, pool.map(lambda i: single([texts[i]])[0], order), strict=True):
                out[i] = vector
        return out

    return encode


def quality(texts: Texts, questions: np.ndarray, paragraphs: np.ndarray, sentences: np.ndarray) -> tuple[float, float]:
    """R@1 and MRR@10 of paragraph cosine plus best-sentence cosine (a paragraph of one sentence: its own)."""
    dense = questions @ paragraphs.T
    best = dense.copy()
    by_sentence = questions @ sentences.T
    owners = np.array(texts.owner)
    for row in np.unique(owners):
        best[:, row] = by_sentence[:, owners == row].max(axis=1)
    score = 0.5 * dense + 0.5 * best
    gold = score[np.arange(len(texts.gold)), texts.gold]
    rank = (score > gold[:, None]).sum(axis=1)
    mrr = float(np.where(rank < 10, 1.0 / (rank + 1), 0.0).mean())
    return round(float((rank == 0).mean()), 4), round(mrr, 4)


def pooled_sentences(model: object, texts: Texts, batch_size: int) -> tuple[np.ndarray, float]:
    """Sentence vectors mean-pooled over their tokens in the paragraph's own pass, and the pass's time."""
    import torch

    st: object = model
    tokenizer = st.tokenizer  # type: ignore[attr-defined]
    transformer = st[0].auto_model.eval()  # type: ignore[index]
    out = np.zeros((len(texts.sentences), 384), dtype=np.float32)
    by_owner: dict[int, list[int]] = {}
    for number, owner in enumerate(texts.owner):
        by_owner.setdefault(owner, []).append(number)
    started = time.perf_counter()
    for first in range(0, len(texts.paragraphs), batch_size):
        batch = texts.paragraphs[first : first + batch_size]
        features = tokenizer(
            batch, padding=True, truncation=True, max_length=256, return_tensors="pt", return_offsets_mapping=True
        )
        offsets = features.pop("offset_mapping").numpy()
        with torch.inference_mode():
            hidden = transformer(**features).last_hidden_state.numpy()
        for row in range(len(batch)):
            for number in by_owner.get(first + row, []):
                start, end = texts.spans[number]
                inside = (offsets[row, :, 0] >= start) & (offsets[row, :, 1] <= end) & (offsets[row, :, 1] > 0)
                vector = hidden[row][inside].mean(axis=0) if inside.any() else hidden[row].mean(axis=0)
                out[number] = vector / np.linalg.norm(vector)
    return out, time.perf_counter() - started


def write_graphs(model: Any, folder: Path) -> dict[str, Path]:
    """Every graph variant measured, written once into ``folder``, by name."""
    graphs = {"sdpa": folder / "sdpa.onnx", "eager": folder / "eager.onnx"}
    onnx.export(model, graphs["sdpa"], attention="sdpa")
    onnx.export(model, graphs["eager"])
    from onnxruntime.transformers.optimizer import optimize_model

    optimised = optimize_model(str(graphs["eager"]), model_type="bert", num_heads=12, hidden_size=384)
    graphs["eager+optimiser"] = folder / "optimised.onnx"
    optimised.save_model_to_file(str(graphs["eager+optimiser"]))
    for name, options in {
        "int8 per tensor": {"per_channel": False},
        "int8 per channel": {"per_channel": True},
        "int8 per channel, 7-bit": {"per_channel": True, "reduce_range": True},
    }.items():
        graphs[name] = folder / f"{name.replace(' ', '_').replace(',', '')}.onnx"
        onnx.quantize(graphs["eager"], graphs[name], **options)
    return graphs


def batching_tokenizer(embedder: SentenceTransformerEmbedder) -> Any:
    """The product's batching tokenizer of ``embedder``'s model (from its export)."""
    files = onnx.export_for(embedder.model_path)
    embedder.export()
    facts = onnx.read_facts(files)
    _, tokenizer = onnx.read_tokenizer(files.tokenizer, embedder.max_tokens, facts["pad_id"], facts["pad_token"])
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "data" / "squad" / "corpus")
    parser.add_argument("--questions", type=Path, default=HERE / "data" / "squad" / "questions.jsonl")
    parser.add_argument("--articles", type=int, default=16)
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    model = embedder._model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus"
        corpus.mkdir()
        for path in sorted(args.corpus.glob("*.txt"))[: args.articles]:
            shutil.copy(path, corpus / path.name)
        texts = Texts(corpus, embedder, args.questions)
        print(
            f"{args.articles} articles: {len(texts.paragraphs)} paragraphs, {len(texts.sentences)} sentences, "
            f"{len(texts.questions)} questions",
            flush=True,
        )
        graphs = write_graphs(model, folder)
        tokenizer = batching_tokenizer(embedder)
        questions = sorted_batches(onnx.session(graphs["eager"]), tokenizer, 64)(texts.questions)

        rows: list[dict[str, object]] = []
        reference, torch_seconds = timed(lambda t: embedder.encode_torch(t, batch_size=32), texts.paragraphs)
        torch_sentences, torch_sentence_seconds = timed(
            lambda t: embedder.encode_torch(t, batch_size=32), texts.sentences
        )
        base: dict[str, float] = {}

        def row(name: str, paragraphs: np.ndarray, p_seconds: float, sentences: np.ndarray, s_seconds: float) -> None:
            total = p_seconds + s_seconds
            base.setdefault("total", total)
            r1, mrr = quality(texts, questions, paragraphs, sentences)
            cosine = (paragraphs * reference).sum(axis=1)
            entry = {
                "lever": name,
                "paragraph_seconds": round(p_seconds, 2),
                "sentence_seconds": round(s_seconds, 2),
                "paragraphs_per_s_with_sentences": round(len(texts.paragraphs) / total, 1),
                "speedup_vs_before": round(base["total"] / total, 2),
                "share_of_pytorch_paragraph_rate": round(torch_seconds / total, 2),
                "paragraph_cosine_to_fp32_mean": round(float(cosine.mean()), 4),
                "paragraph_cosine_to_fp32_min": round(float(cosine.min()), 4),
                "dense_R@1": r1,
                "dense_MRR@10": mrr,
            }
            rows.append(entry)
            print(entry, flush=True)

        # (lever, graph, spinning threads, batch size, threads): each embeds paragraphs and sentences.
        variants = [
            ("before: SDPA export, fp32, batch 32", "sdpa", False, 32, 0),
            ("plain (eager) attention, fp32", "eager", False, 32, 0),
            ("eager + onnxruntime's transformer optimiser", "eager+optimiser", False, 32, 0),
            ("eager, threads spin", "eager", True, 32, 0),
            ("eager, threads spin, batch 8", "eager", True, 8, 0),
            ("eager, threads spin, batch 1", "eager", True, 1, 0),
            ("eager, threads spin, 1 thread", "eager", True, 32, 1),
            ("int8 per tensor, every vector, spin, batch 1", "int8 per tensor", True, 1, 0),
            ("int8 per channel, every vector, threads sleep, batch 1", "int8 per channel", False, 1, 0),
            ("int8 per channel, every vector, spin, batch 32", "int8 per channel", True, 32, 0),
            ("int8 per channel, every vector, spin, batch 1", "int8 per channel", True, 1, 0),
            ("int8 per channel 7-bit, every vector, spin, batch 1", "int8 per channel, 7-bit", True, 1, 0),
        ]
        done: dict[str, tuple[np.ndarray, float, np.ndarray, float]] = {}
        for name, graph, spinning, batch, threads in variants:
            encode = sorted_batches(onnx.session(graphs[graph], threads, spinning=spinning), tokenizer, batch)
            paragraphs, p_seconds = timed(encode, texts.paragraphs)
            sentences, s_seconds = timed(encode, texts.sentences)
            done[name] = (paragraphs, p_seconds, sentences, s_seconds)
            row(name, paragraphs, p_seconds, sentences, s_seconds)
            if name.startswith("before"):
                row(
                    "PyTorch encode, batch 32 (the reference)",
                    reference,
                    torch_seconds,
                    torch_sentences,
                    torch_sentence_seconds,
                )
            if "batch 32" in name and name.startswith("int8"):
                alone = sorted_batches(onnx.session(graphs[graph], threads, spinning=spinning), tokenizer, 1)
                moved = float(np.abs(alone(texts.paragraphs[:64]) - paragraphs[:64]).max())
                print(f"  largest change of a vector embedded alone instead of in its batch: {moved:.2e}", flush=True)
        # One text per single-threaded run, a run per core side by side (qa/embed/fast.py).
        for name, graph in (
            ("fp32, one text per 1-thread run, runs side by side (--no-int8 documents)", "eager"),
            ("int8 per channel, every vector, one text per 1-thread run, side by side (shipped)", "int8 per channel"),
            ("int8 per channel 7-bit, one text per 1-thread run, side by side", "int8 per channel, 7-bit"),
        ):
            encode = side_by_side(onnx.session(graphs[graph], 1), tokenizer)
            paragraphs, p_seconds = timed(encode, texts.paragraphs)
            sentences, s_seconds = timed(encode, texts.sentences)
            done[name] = (paragraphs, p_seconds, sentences, s_seconds)
            row(name, paragraphs, p_seconds, sentences, s_seconds)
        fp32 = done["fp32, one text per 1-thread run, runs side by side (--no-int8 documents)"]
        int8 = done["int8 per channel, every vector, one text per 1-thread run, side by side (shipped)"]
        row("int8 per channel for sentences only (paragraphs fp32; both side by side)", *fp32[:2], *int8[2:])
        pooled, pooled_seconds = pooled_sentences(model, texts, 32)
        # Pooling needs the paragraph pass only: its cost is the fp32 paragraphs' time.
        row("sentences pooled from the paragraph's own pass (fp32, side by side)", *fp32[:2], pooled, 0.0)
        print(f"(the pooled pass itself ran in PyTorch: {pooled_seconds:.1f} s, not counted)", flush=True)
    print()
    print(
        "| lever | paragraphs s | sentences s | speed-up vs before | × PyTorch paragraph rate "
        "| cosine to fp32 (mean / min) | dense R@1 | dense MRR@10 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for entry in rows:
        print(
            f"| {entry['lever']} | {entry['paragraph_seconds']} | {entry['sentence_seconds']} | "
            f"{entry['speedup_vs_before']} | {entry['share_of_pytorch_paragraph_rate']} | "
            f"{entry['paragraph_cosine_to_fp32_mean']} / {entry['paragraph_cosine_to_fp32_min']} | "
            f"{entry['dense_R@1']} | {entry['dense_MRR@10']} |"
        )
    save_json(HERE / "results" / "levers.json", rows)


if __name__ == "__main__":
    main()
