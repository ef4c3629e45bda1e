"""The index a program works with: build, load, changes, refresh, ensure (the fake embedder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa.store.database import FORMAT_VERSION
from qa.store.manifest import MANIFEST


def test_build_writes_database_and_manifest(fake_index: qa.Index) -> None:
    manifest = json.loads((fake_index.folder / MANIFEST).read_text())
    assert manifest["model"] == "fake-embedder"
    assert manifest["dimension"] == 256
    assert manifest["normalized"] is True
    assert manifest["format_version"] == FORMAT_VERSION == 3
    assert manifest["passage_count"] == len(fake_index) == 6
    assert set(fake_index.manifest.files) == {"volcano.txt", "bakery.md", "nested/rivers.txt"}
    names = sorted(p.name for p in fake_index.folder.iterdir())
    assert not any(name.endswith((".pkl", ".pickle", ".jsonl")) or name.startswith(".tmp-") for name in names)
    assert {"index.db", "manifest.json"} <= set(names)


def test_load_round_trip_gives_same_results(fake_index: qa.Index, fake: FakeEmbedder) -> None:
    loaded = qa.load_index(fake_index.folder, embedder=fake)
    question = "Who trains apprentices in slow fermentation?"
    assert [h.citation for h in loaded.search(question, k=3)] == [h.citation for h in fake_index.search(question, k=3)]
    assert loaded.passages == fake_index.passages


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(qa.IndexNotFoundError, match="qa index"):
        qa.load_index(tmp_path / "none")


def test_touched_but_unchanged_file_is_not_a_change(fake_index: qa.Index, corpus: Path) -> None:
    path = corpus / "volcano.txt"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert not fake_index.changes()


def test_changes_detect_added_edited_removed(fake_index: qa.Index, corpus: Path) -> None:
    assert not fake_index.changes()
    (corpus / "extra.md").write_text("New.", encoding="utf-8")
    (corpus / "volcano.txt").write_text("Changed.", encoding="utf-8")
    (corpus / "nested" / "rivers.txt").unlink()
    changes = fake_index.changes()
    assert changes.added == ("extra.md",)
    assert changes.changed == ("volcano.txt",)
    assert changes.removed == ("nested/rivers.txt",)
    assert "1 file added (extra.md)" in changes.describe()


def test_refresh_reembeds_only_changed_paragraphs(fake_index: qa.Index, corpus: Path) -> None:
    (corpus / "extra.md").write_text("Glaciers carve valleys.\n\nIce moves slowly.", encoding="utf-8")
    counting = FakeEmbedder()
    refreshed = qa.load_index(fake_index.folder, embedder=counting).refresh()
    assert refreshed.report is not None
    assert (refreshed.report.embedded, refreshed.report.reused) == (2, 6)
    assert not refreshed.changes()
    assert refreshed.search("glaciers carve valleys", k=1)[0].source == "extra.md"


def test_ensure_index_builds_then_refreshes(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa import update

    monkeypatch.setattr(update, "load_embedder", lambda model="x": FakeEmbedder(name=model))
    messages: list[str] = []
    first = qa.ensure_index(tmp_path / "idx", corpus, notify=messages.append)
    assert len(first) == 6 and "building" in messages[-1]
    (corpus / "volcano.txt").write_text("Etna rests today.", encoding="utf-8")
    second = qa.ensure_index(tmp_path / "idx", notify=messages.append)
    assert "1 file edited (volcano.txt)" in messages[-1]
    assert not second.changes()
    assert len(second) == 5


def test_unicode_line_separators_survive_a_reload(tmp_path: Path, fake: FakeEmbedder) -> None:
    corpus = write_corpus(tmp_path / "c", {"sep.txt": "Alpha is\u2028 a letter.\u2029 Beta\x85 too.\n\nGamma."})
    built = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    loaded = qa.load_index(tmp_path / "i", embedder=fake)
    assert loaded.passages == built.passages
    assert loaded.passages[0].text == "Alpha is\u2028 a letter.\u2029 Beta\x85 too."


def test_no_documents_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    from qa.index import build_from_documents

    with pytest.raises(qa.CorpusError, match="no documents to index"):
        build_from_documents([], tmp_path / "i", settings=qa.Settings(model="no-such/model-anywhere"))
