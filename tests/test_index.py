"""Building, saving, loading and checking an index, with the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa import lexical as lexical_module
from qa.store import MANIFEST, read_manifest


def test_build_writes_manifest_and_artifacts(fake_index: qa.Index) -> None:
    manifest = json.loads((fake_index.folder / MANIFEST).read_text())
    assert manifest["model"] == "fake-embedder"
    assert manifest["dimension"] == 256
    assert manifest["normalized"] is True
    assert manifest["passage_count"] == len(fake_index) == 7
    assert set(manifest["files"]) == {"volcano.txt", "bakery.md", "nested/rivers.txt"}
    assert len(manifest["fingerprint"]) == 64
    names = sorted(p.name for p in fake_index.folder.iterdir())
    assert not any(name.endswith((".pkl", ".pickle")) for name in names)
    assert len(names) == 4


def test_load_round_trip_gives_same_results(fake_index: qa.Index, fake: FakeEmbedder) -> None:
    loaded = qa.load_index(fake_index.folder, embedder=fake)
    question = "Who trains apprentices in slow fermentation?"
    assert [h.citation for h in loaded.search(question, k=3)] == [h.citation for h in fake_index.search(question, k=3)]
    assert loaded.passages == fake_index.passages


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(qa.IndexNotFoundError, match="qa index"):
        qa.load_index(tmp_path / "none")


def test_corrupt_manifest_is_reported(fake_index: qa.Index) -> None:
    (fake_index.folder / MANIFEST).write_text("{not json")
    with pytest.raises(qa.IndexCorruptError, match="unreadable"):
        qa.load_index(fake_index.folder)


def test_corrupt_vector_file_is_reported(fake_index: qa.Index) -> None:
    vectors = fake_index.folder / fake_index.manifest.artifacts["vectors"]
    vectors.write_bytes(b"garbage")
    with pytest.raises(qa.IndexCorruptError, match="vector index"):
        qa.load_index(fake_index.folder)


def test_passage_count_disagreement_is_reported(fake_index: qa.Index) -> None:
    passages = fake_index.folder / fake_index.manifest.artifacts["passages"]
    lines = passages.read_text().splitlines()
    passages.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(qa.IndexCorruptError, match="passages"):
        qa.load_index(fake_index.folder)


def test_other_format_version_names_both(fake_index: qa.Index) -> None:
    path = fake_index.folder / MANIFEST
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(qa.IndexMismatchError, match=r"99.*\(1\)"):
        qa.load_index(fake_index.folder)


def test_other_model_names_both(fake_index: qa.Index) -> None:
    with pytest.raises(qa.IndexMismatchError, match=r"'fake-embedder'.*'all-MiniLM-L6-v2'"):
        qa.load_index(fake_index.folder, model="all-MiniLM-L6-v2")
    with pytest.raises(qa.IndexMismatchError, match="other-model"):
        qa.load_index(fake_index.folder, embedder=FakeEmbedder(name="other-model"))


def test_crash_mid_build_keeps_previous_index(
    fake_index: qa.Index, corpus: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = read_manifest(fake_index.folder)
    (corpus / "new.txt").write_text("A brand new article about glaciers.", encoding="utf-8")

    def explode(self: object, folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lexical_module.LexicalIndex, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        qa.build_index(corpus, fake_index.folder, embedder=fake)
    monkeypatch.undo()
    survivor = qa.load_index(fake_index.folder, embedder=fake)
    assert survivor.manifest == before
    assert len(survivor) == 7
    assert survivor.search("Etna volcano", k=1)[0].source == "volcano.txt"
    # The next successful build cleans up what the crash left behind.
    rebuilt = qa.build_index(corpus, fake_index.folder, embedder=fake)
    assert len(rebuilt) == 8
    assert len(list(fake_index.folder.iterdir())) == 4


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
    assert (refreshed.report.embedded, refreshed.report.reused) == (2, 7)
    assert not refreshed.changes()
    assert refreshed.search("glaciers carve valleys", k=1)[0].source == "extra.md"


def test_ensure_index_builds_then_refreshes(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa import index as index_module

    monkeypatch.setattr(index_module, "SentenceTransformerEmbedder", lambda model="x": FakeEmbedder(name=model))
    messages: list[str] = []
    first = index_module.ensure_index(tmp_path / "idx", corpus, notify=messages.append)
    assert len(first) == 7 and "building" in messages[-1]
    (corpus / "volcano.txt").write_text("Etna rests today.", encoding="utf-8")
    second = index_module.ensure_index(tmp_path / "idx", notify=messages.append)
    assert "1 file edited (volcano.txt)" in messages[-1]
    assert not second.changes()
    assert len(second) == 6


def test_long_paragraph_is_windowed_not_truncated(tmp_path: Path) -> None:
    words = [f"filler{i}" for i in range(150)]
    text = " ".join(words) + " the zanzibar clause appears only at the very end."
    corpus = write_corpus(tmp_path / "c", {"long.txt": text, "short.txt": "Short unrelated note about cats."})
    embedder = FakeEmbedder(max_tokens=40)
    index = qa.build_index(corpus, tmp_path / "i", embedder=embedder, settings=qa.Settings(context=False))
    assert index.report is not None and index.report.windowed == 1
    assert index.manifest.vector_count > index.manifest.passage_count == 2
    hit = index.search("zanzibar clause", k=1, retriever="dense")[0]
    assert (hit.source, hit.paragraph, hit.text) == ("long.txt", 1, text)


def test_unicode_line_separators_survive_a_reload(tmp_path: Path, fake: FakeEmbedder) -> None:
    corpus = write_corpus(tmp_path / "c", {"sep.txt": "Alpha is\u2028 a letter.\u2029 Beta\x85 too.\n\nGamma."})
    built = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    loaded = qa.load_index(tmp_path / "i", embedder=fake)
    assert loaded.passages == built.passages
    assert loaded.passages[0].text == "Alpha is\u2028 a letter.\u2029 Beta\x85 too."


@pytest.mark.parametrize("text", ["  \n\n ", "The. And of."])
def test_corpus_without_searchable_text_is_a_clear_error(tmp_path: Path, fake: FakeEmbedder, text: str) -> None:
    corpus = write_corpus(tmp_path / "c", {"001.txt": text})
    with pytest.raises(qa.CorpusError, match=r"no paragraphs|no searchable words"):
        qa.build_index(corpus, tmp_path / "i", embedder=fake)
