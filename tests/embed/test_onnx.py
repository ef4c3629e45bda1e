"""The ONNX export of the model: made once and cached, identical vectors, PyTorch where it cannot be had."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.embed import onnx
from qa.embed.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.model

TEXTS = ["Who directs the Basra Cultural Center?", "a", "The ferry leaves the harbour every hour in summer. " * 20]


def test_the_export_gives_the_models_own_vectors(real_embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    model: Any = real_embedder._model
    assert onnx.exportable(model)
    encoder = onnx.load_or_export(model, "all-MiniLM-L6-v2", real_embedder.max_tokens, tmp_path)
    assert encoder is not None
    exported = list(tmp_path.glob("*.onnx"))
    assert len(exported) == 1 and exported[0] == onnx.cached_path("all-MiniLM-L6-v2", tmp_path)
    vectors = encoder.encode(TEXTS)
    expected = real_embedder.encode_torch(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert float(np.abs(vectors - expected).max()) < 1e-5
    # Cached: the next load exports nothing (the file is not written again).
    written = exported[0].stat().st_mtime_ns
    assert onnx.load_or_export(model, "all-MiniLM-L6-v2", real_embedder.max_tokens, tmp_path) is not None
    assert exported[0].stat().st_mtime_ns == written


def test_each_model_and_library_version_has_its_own_file(tmp_path: Path) -> None:
    first = onnx.cached_path("org/model-a", tmp_path)
    assert first.parent == tmp_path and first.name.startswith("model-a-") and first.suffix == ".onnx"
    assert onnx.cached_path("org/model-b", tmp_path) != first
    assert onnx.cached_path("../../etc/passwd", tmp_path).parent == tmp_path


def test_a_failed_export_falls_back_to_pytorch_with_a_warning(
    real_embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(model: object, target: Path) -> None:
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx, "export", broken)
    with caplog.at_level(logging.WARNING, logger="qa.embed.onnx"):
        assert onnx.load_or_export(real_embedder._model, "m", real_embedder.max_tokens, tmp_path) is None
    assert "exporter crashed" in caplog.text and "using PyTorch" in caplog.text
    # Nothing but the export's lock file is left: no partial graph.
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".lock"] == []
    # The embedder then answers through PyTorch, with the same vectors.
    slow = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert float(np.abs(slow.encode(TEXTS[:1]) - real_embedder.encode(TEXTS[:1])).max()) < 1e-5


def test_only_mean_pooled_models_are_exported() -> None:
    class Module:
        def __init__(self, mode: str) -> None:
            self.mode = mode

        def get_config_dict(self) -> dict[str, str]:
            return {"pooling_mode": self.mode}

    class Transformer(Module):
        pass

    class Pooling(Module):
        pass

    class Normalize(Module):
        pass

    assert onnx.exportable([Transformer(""), Pooling("mean"), Normalize("")])
    assert not onnx.exportable([Transformer(""), Pooling("cls")])
    assert not onnx.exportable([Pooling("mean"), Transformer("")])
