"""The real model: loaded offline from its package, and the same vectors by every path (ONNX, PyTorch, batches)."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.embed.embedder import Embedder

pytestmark = pytest.mark.model

OUT_OF_CORPUS = [
    "What is the capital of France?",
    "How do I sort a list in Python?",
    "What is the boiling point of water at sea level?",
    "Who won the 2018 FIFA World Cup?",
    "How does photosynthesis work in plants?",
    "What is the recipe for chocolate chip cookies?",
]


def test_default_model_loads_offline(real_embedder: Embedder) -> None:
    assert real_embedder.name == "all-MiniLM-L6-v2"
    assert real_embedder.dimension == 384
    vectors = real_embedder.encode(["hello world", "a second text"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_question_fast_path_matches_batch_encoding(real_embedder: Embedder) -> None:
    texts = [f"Question number {i} about the Basra Cultural Center?" for i in range(12)]
    batched = real_embedder.encode(texts, batch_size=4)
    single = [real_embedder.encode([text])[0] for text in texts]
    assert batched.shape == (12, 384)
    assert max(float(abs(a - b).max()) for a, b in zip(batched, single, strict=True)) < 1e-4
    assert real_embedder._onnx, "questions go through the ONNX export"


def test_pytorch_question_path_matches_too(tmp_path: Path) -> None:
    from qa.embed.embedder import SentenceTransformerEmbedder

    slow = SentenceTransformerEmbedder(fast_questions=False, fast_documents=False)
    texts = ["Who directs the Basra Cultural Center?", "What is Isfahan known for?"]
    reference = slow._model.encode(texts, normalize_embeddings=True)
    pairs = zip(reference, [slow.encode([t])[0] for t in texts], strict=True)
    assert max(float(abs(a - b).max()) for a, b in pairs) < 1e-4
    assert not slow._onnx


def test_onnx_document_batches_equal_pytorch(real_embedder: Embedder, seeds_copy: Path) -> None:
    paragraphs = [p.text for d in qa.read_corpus(seeds_copy).documents for p in qa.split_passages(d)]
    texts = [*paragraphs, "short", "a somewhat longer text " * 40]
    fast = real_embedder.encode(texts, batch_size=8)
    reference = real_embedder.encode_torch(texts, batch_size=8)  # type: ignore[attr-defined]
    assert fast.shape == reference.shape == (len(texts), 384)
    assert float(abs(fast - reference).max()) < 1e-5
