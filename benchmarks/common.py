"""Shared helpers for the benchmarks: cached question embeddings, config sweeps, tables."""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import qa
from qa.embed.embedder import Embedder, documents
from qa.eval.metrics import QuestionResult, Report, evaluate, metrics
from qa.eval.questions import Question


class CachedEmbedder:
    """Wraps an embedder so that each question is embedded once across many configurations."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def windows(self, text: str, budget: int, overlap: int) -> list[tuple[int, int]]:
        return self.inner.windows(text, budget, overlap)

    def prime(self, questions: Sequence[str]) -> None:
        todo = [q for q in dict.fromkeys(questions) if q not in self.cache]
        for text, vector in zip(todo, self.inner.encode(todo, batch_size=128, progress=True), strict=True):
            self.cache[text] = vector

    @property
    def int8_ready(self) -> bool:
        return bool(getattr(self.inner, "int8_ready", False))

    def encode_int8(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Documents through the inner model's int8 twin (never cached: each is embedded once)."""
        return documents(self.inner, "encode_int8", texts, batch_size)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Documents in fp32 as a build embeds them (never cached)."""
        return documents(self.inner, "encode_documents", texts, batch_size)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if len(texts) == 1 and texts[0] in self.cache:
            return self.cache[texts[0]][None, :]
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)


@dataclass(frozen=True)
class Config:
    """One retriever configuration to measure."""

    name: str
    index: str  # which built index (a key of INDEX_SETTINGS)
    settings: qa.Settings


#: The indexes every benchmark builds: the anchors' plain one, the shipped default, and
#: the default plus article context in the embeddings.
INDEX_SETTINGS = {
    "plain": qa.Settings(context=False, lexical_title=False),
    "default": qa.Settings(),
    "context": qa.Settings(context=True),
}


def build_all(build: Callable[[str, qa.Settings, Path], qa.Index], out: Path) -> dict[str, qa.Index]:
    """Build every index of INDEX_SETTINGS under ``out``, reusing vectors between them.

    Args:
        build: Builds one index: ``build(name, settings, folder)``.
        out: Parent folder of the index folders.
    """
    indexes: dict[str, qa.Index] = {}
    for name, settings in INDEX_SETTINGS.items():
        folder = out / f"index-{name}"
        if not folder.exists() and indexes:
            # Identical embedded strings reuse their vectors from the previous index.
            shutil.copytree(next(iter(indexes.values())).folder, folder)
        indexes[name] = build(name, settings, folder)
    return indexes


def standard_configs() -> list[Config]:
    """The anchors, the single retrievers and the fusion variants compared on every data set."""
    configs = [
        Config("bare: MiniLM + exact FAISS", "plain", qa.Settings(retriever="dense")),
        Config("bm25s alone", "plain", qa.Settings(retriever="lexical")),
        Config("dense + context", "context", qa.Settings(retriever="dense")),
        Config("bm25s + title", "default", qa.Settings(retriever="lexical")),
        Config("hybrid rrf", "default", qa.Settings(fusion="rrf")),
        Config("hybrid minmax w=0.6 + context", "context", qa.Settings()),
    ]
    for weight in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        settings = qa.Settings(fusion="minmax", dense_weight=weight)
        configs.append(Config(f"hybrid minmax w={weight}", "default", settings))
    return configs


def latency(index: qa.Index, questions: Sequence[str], retriever: str | None = None) -> dict[str, float]:
    """Per-question search time (question embedding included), in milliseconds."""
    index.search(questions[0], k=10)
    times = []
    for question in questions:
        started = time.perf_counter()
        index.search(question, k=10, retriever=retriever)  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "mean": statistics.fmean(times),
    }


def sweep(
    indexes: dict[str, qa.Index],
    questions: Sequence[Question],
    embedder: CachedEmbedder,
    *,
    by_document: bool = False,
    configs: Sequence[Config] | None = None,
) -> dict[str, Report]:
    """Evaluate every configuration on ``questions`` with cached question vectors."""
    embedder.prime([q.text for q in questions])
    reports = {}
    for config in configs or standard_configs():
        base = indexes[config.index]
        index = qa.load_index(base.folder, settings=config.settings, embedder=embedder)  # type: ignore[arg-type]
        started = time.perf_counter()
        reports[config.name] = evaluate(index, questions, k=20, by_document=by_document)
        print(f"  {config.name:<28} {time.perf_counter() - started:6.1f} s", flush=True)
    return reports


def rescore_abstention(
    questions: Sequence[Question], results: Sequence[QuestionResult], threshold: float
) -> dict[str, Any]:
    """Abstention metrics if the threshold were ``threshold`` (on the best cosine)."""
    moved = [
        QuestionResult(r.id, r.ranked, r.best_score is not None and r.best_score >= threshold, r.best_score, r.seconds)
        for r in results
    ]
    return metrics(questions, moved)


def table(rows: dict[str, dict[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` (name -> metrics) with the given metric columns."""
    head = "| retriever | " + " | ".join(columns) + " |"
    rule = "| --- | " + " | ".join("---:" for _ in columns) + " |"
    lines = [head, rule]
    for name, values in rows.items():
        cells = []
        for column in columns:
            value = values.get(column)
            cells.append("–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value)))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_json(path: Path, data: Any) -> None:
    """Write results as JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
