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


def test_a_new_index_is_int8_only_where_documents_are_embedded_on_a_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exported: Any
) -> None:
    from conftest import write_corpus
    from fakes import FakeEmbedder

    import qa
    from qa.embed import loader

    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "One paragraph here.\n\nAnother one there."})
    cache = exported._files.stem.parent
    monkeypatch.setattr(loader, "NVIDIA_DRIVER", tmp_path / "version")
    # Without a GPU, asking for one changes nothing: the export is used, and its twin.
    model = loader.load_embedder("all-MiniLM-L6-v2", cache_dir=cache, gpu=True)
    assert not loader.gpu_present() and isinstance(model, fast.OnnxEmbedder) and model.int8_ready
    # A driver PyTorch cannot use (this machine's CPU build of torch): still the CPU export.
    (tmp_path / "version").write_text("NVRM version: test", encoding="utf-8")
    model = loader.load_embedder("all-MiniLM-L6-v2", cache_dir=cache, gpu=True)
    assert loader.gpu_present() and isinstance(model, fast.OnnxEmbedder)
    assert qa.build_index(corpus, tmp_path / "cpu", embedder=model).manifest.int8 is True

    class OnGpu(FakeEmbedder):
        """What a model on a GPU says: documents in fp32 there."""

        device = "cuda:0"
        int8_ready = False

    assert qa.build_index(corpus, tmp_path / "gpu", embedder=OnGpu()).manifest.int8 is False


def _copy_export(exported: Any, target: Path) -> Path:
    """The fp32 export's files (not its int8 twin) copied into a cache folder of their own."""
    import shutil

    files = exported._files
    target.mkdir(parents=True, exist_ok=True)
    for path in (files.graph, files.tokenizer, files.facts):
        shutil.copy(path, target / path.name)
    return target


def test_processes_making_the_int8_twin_at_once_all_get_it(exported: Any, tmp_path: Path) -> None:
    cache = _copy_export(exported, tmp_path / "cache")
    model_path = exported._files.stem.name
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from qa.embed.fast import OnnxEmbedder\n"
        "from qa.embed.onnx import Export\n"
        f"model = OnnxEmbedder(Export(Path({str(cache)!r}) / {model_path!r}))\n"
        "print(model.encode_int8(['the same paragraph'])[0][:4].tolist())\n"
    )
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert len(set(outputs)) == 1
    # Nothing is left beside the twin: no side file of the quantiser, no temporary file.
    leftovers = sorted(p.name for p in cache.iterdir() if "inferred" in p.name or p.name.endswith(".tmp"))
    assert leftovers == []


def test_an_int8_twin_that_cannot_be_made_is_a_clear_error(
    exported: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.errors import ModelError

    cache = _copy_export(exported, tmp_path / "cache")
    model = fast.OnnxEmbedder(onnx.Export(cache / exported._files.stem.name))

    def full(source: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fast, "quantize", full)
    with pytest.raises(ModelError, match="--no-int8"):
        model.encode_int8(["a paragraph"])
    # fp32 documents still embed.
    assert model.encode_documents(["a paragraph"]).shape == (1, 384)


def test_the_name_is_the_canonical_one_whichever_spelling_exported(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    by_path = load_embedder(real_embedder.model_path, cache_dir=tmp_path)
    by_name = load_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert isinstance(by_name, fast.OnnxEmbedder) and by_name.name == "all-MiniLM-L6-v2"
    assert by_path.name == real_embedder.__class__(real_embedder.model_path, cache_dir=tmp_path).name


def test_a_process_without_a_home_caches_in_the_temporary_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(homeless))
    assert onnx.default_cache_dir().parent == Path(tempfile.gettempdir())


def test_the_temporary_cache_is_never_a_folder_others_may_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import tempfile

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(homeless))
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    planted = tmp_path / f"qa-cache-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    chosen = onnx.default_cache_dir()
    assert chosen != planted and chosen.parent == tmp_path and (chosen.stat().st_mode & 0o077) == 0
    planted.chmod(0o700)
    assert onnx.default_cache_dir() == planted
