"""The deferred model: name and length without loading it, loaded once when something must be embedded."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa import update
from qa.embed.deferred import DeferredEmbedder


class Loads:
    """A model loader that counts its calls and hands out a fake of the default model's shape."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model: str) -> FakeEmbedder:
        self.calls += 1
        return FakeEmbedder(dimension=384, name="all-MiniLM-L6-v2")


def test_the_name_needs_no_model_and_the_rest_loads_it_once() -> None:
    loads = Loads()
    model = DeferredEmbedder("sentence-transformers/all-MiniLM-L6-v2", loads)
    assert (model.name, loads.calls, model.loaded) == ("all-MiniLM-L6-v2", 0, False)
    assert model.dimension == 384 and model.count_tokens("two words") == 2
    assert model.encode(["a", "b"]).shape == (2, 384) and model.max_tokens == 40
    assert loads.calls == 1 and model.loaded


def test_an_update_with_nothing_to_do_loads_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "One paragraph.\n\nAnother one."})
    shaped = FakeEmbedder(dimension=384, name="all-MiniLM-L6-v2")
    qa.build_index(corpus, tmp_path / "index", embedder=shaped)
    loads = Loads()
    monkeypatch.setattr(update, "load_embedder", loads)
    report = update.update_index(corpus, tmp_path / "index")
    assert (report.embedded, loads.calls) == (0, 0)
    # A check of the stored vectors takes their length from the index, not from the model.
    checked = update.update_index(corpus, tmp_path / "index", options=update.BuildOptions(verify=True))
    assert (checked.embedded, loads.calls) == (0, 0)
    # A changed file must be embedded: the model is loaded then, once.
    (corpus / "a.txt").write_text("One paragraph.\n\nAnother one, changed.", encoding="utf-8")
    report = update.update_index(corpus, tmp_path / "index")
    assert report.embedded > 0 and loads.calls == 1
