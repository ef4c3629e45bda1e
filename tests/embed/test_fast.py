"""The torch-free embedder: the cached export read with onnxruntime and tokenizers, fp32 and int8."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.embed import fast, onnx
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.embed.loader import load_embedder

pytestmark = pytest.mark.model

TEXTS = [
    "Who directs the Basra Cultural Center?",
    "a",
    "The ferry leaves the harbour every hour in summer. " * 60,
    "Ünïcödé — straße ½ café 東京 🎉, and “quotes” in it.",
    "",
]


@pytest.fixture(scope="module")
def exported(real_embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory) -> fast.OnnxEmbedder:
    cache = tmp_path_factory.mktemp("cache")
    model = load_embedder("all-MiniLM-L6-v2", cache_dir=cache)
    # The first load exported through PyTorch and then handed out the export's embedder.
    assert isinstance(model, fast.OnnxEmbedder)
    return model


def test_the_export_embeds_and_counts_as_the_model_does(
    exported: fast.OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    assert (exported.name, exported.dimension, exported.max_tokens) == ("all-MiniLM-L6-v2", 384, 256)
    vectors = exported.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (5, 384)
    assert float(np.abs(vectors - real_embedder.encode_torch(TEXTS)).max()) < 1e-5
    # One text per run, side by side: the same vectors as batches.
    assert float(np.abs(exported.encode_documents(TEXTS) - vectors).max()) < 1e-5
    for text in TEXTS:
        assert exported.count_tokens(text) == real_embedder.count_tokens(text)
        assert exported.windows(text, 50, 10) == real_embedder.windows(text, 50, 10)


def test_int8_vectors_are_close_and_do_not_depend_on_their_batch(exported: fast.OnnxEmbedder) -> None:
    int8 = exported.encode_int8(TEXTS[:4])
    fp32 = exported.encode(TEXTS[:4])
    cosines = (int8 * fp32).sum(axis=1)
    assert np.all(cosines > 0.98) and np.all(cosines < 0.99999)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    # Each text alone, in another order, or among other texts: exactly the same vector.
    alone = np.vstack([exported.encode_int8([text]) for text in TEXTS[:4]])
    reordered = exported.encode_int8(TEXTS[:4][::-1])[::-1]
    mixed = exported.encode_int8(["something else entirely", *TEXTS[:4]])[1:]
    assert np.array_equal(int8, alone) and np.array_equal(int8, reordered) and np.array_equal(int8, mixed)
    assert exported.encode_int8([]).shape == (0, 384)


def test_a_damaged_export_is_made_again(real_embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    model = load_embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert isinstance(model, fast.OnnxEmbedder)
    files = onnx.export_for(real_embedder.model_path, tmp_path)
    files.facts.write_text("{not json", encoding="utf-8")
    assert fast.exported(real_embedder.model_path, tmp_path) is None
    again = load_embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert isinstance(again, fast.OnnxEmbedder)
    assert float(np.abs(again.encode(TEXTS[:1]) - real_embedder.encode_torch(TEXTS[:1])).max()) < 1e-5


def test_a_later_process_never_imports_pytorch(exported: Any, tmp_path: Path) -> None:
    cache = exported._files.stem.parent
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from qa.embed.loader import load_embedder\n"
        f"model = load_embedder('all-MiniLM-L6-v2', cache_dir=Path({str(cache)!r}))\n"
        "assert model.encode(['a question?']).shape == (1, 384)\n"
        "assert model.encode_int8(['a paragraph.']).shape == (1, 384)\n"
        "print(type(model).__name__, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["OnnxEmbedder", "False", "False"]


def test_a_damaged_int8_twin_is_quantised_again(exported: Any, tmp_path: Path) -> None:
    files = exported._files
    exported.encode_int8(["made once"])
    expected = exported.encode_int8(TEXTS[:1])
    files.int8.write_bytes(b"not a graph")
    again = fast.OnnxEmbedder(files)
    assert np.array_equal(again.encode_int8(TEXTS[:1]), expected)


def test_a_build_on_a_gpu_machine_defaults_to_fp32_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exported: Any
) -> None:
    from conftest import write_corpus
    from fakes import FakeEmbedder

    import qa
    from qa.embed import loader

    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "One paragraph here.\n\nAnother one there."})
    assert loader.default_vectors() == ("fp32" if loader.gpu_present() else "int8")
    monkeypatch.setattr(loader, "NVIDIA_DRIVER", tmp_path / "version")
    assert not loader.gpu_present() and loader.default_vectors() == "int8"
    # Without a GPU, asking for one changes nothing: the export is used.
    cache = exported._files.stem.parent
    assert isinstance(loader.load_embedder("all-MiniLM-L6-v2", cache_dir=cache, gpu=True), fast.OnnxEmbedder)
    (tmp_path / "version").write_text("NVRM version: test", encoding="utf-8")
    assert loader.gpu_present() and loader.default_vectors() == "fp32"
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert index.manifest.int8 is False
