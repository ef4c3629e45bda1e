"""The writer: damage named and repaired, crashes that keep the last state, stable ids, totals, incremental updates."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa.store import freeze, rows


def test_damaged_database_is_named_and_rebuilt(fake_index: qa.Index, corpus: Path, fake: FakeEmbedder) -> None:
    folder = fake_index.folder
    fake_index.snapshot.close()
    for suffix in ("-wal", "-shm"):
        (folder / f"index.db{suffix}").unlink(missing_ok=True)
    (folder / "index.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(qa.IndexCorruptError, match=r"index\.db is damaged.*qa index"):
        qa.load_index(folder)
    messages: list[str] = []
    repaired = qa.build_index(corpus, folder, embedder=fake, verify=True, notify=messages.append)
    assert len(repaired) == 6 and any("damaged" in m for m in messages)
    assert repaired.report is not None and repaired.report.repaired
    assert any(p.name.startswith("index.db.damaged-") for p in folder.iterdir())


@pytest.mark.parametrize("part", ["vectors", "keywords"])
def test_damaged_base_files_are_named_and_rebuilt(
    corpus: Path, tmp_path: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    meta = index.snapshot.meta
    assert index.snapshot.base is not None and (index.folder / meta.base_file).is_file()
    damaged = index.folder / meta.base_file if part == "vectors" else index.folder / meta.lexical_file / "tf.npy"
    data = bytearray(damaged.read_bytes())
    data[-4:] = b"\xff\xff\x7f\x7f"
    damaged.write_bytes(bytes(data))
    named = meta.base_file if part == "vectors" else meta.lexical_file
    with pytest.raises(qa.IndexCorruptError, match=rf"{named} is damaged"):
        qa.load_index(index.folder)
    repaired = qa.build_index(corpus, index.folder, embedder=fake, verify=True)
    assert repaired.report is not None and any("rebuilt" in r for r in repaired.report.repaired)
    assert qa.load_index(index.folder, embedder=fake).search("Etna volcano", k=1)[0].source == "volcano.txt"


def test_damaged_stored_vectors_are_named_and_re_embedded(fake_index: qa.Index, corpus: Path) -> None:
    folder = fake_index.folder
    with sqlite3.connect(folder / "index.db") as connection:
        sha, vector = connection.execute(
            "SELECT sha256, vector FROM embeddings WHERE sha256 IN (SELECT sha256 FROM windows) LIMIT 1"
        ).fetchone()
        blob = bytearray(vector)
        blob[0:4] = b"\xff\xff\x7f\x7f"  # a huge float: not a unit vector any more
        connection.execute("UPDATE embeddings SET vector = ? WHERE sha256 = ?", (bytes(blob), sha))
    with pytest.raises(qa.IndexCorruptError, match=r"stored vectors in .*index\.db are damaged"):
        qa.load_index(folder)
    counting = FakeEmbedder()
    repaired = qa.build_index(corpus, folder, embedder=counting, verify=True)
    assert repaired.report is not None and repaired.report.repaired
    # Only the damaged paragraph's file is embedded again, not the whole corpus.
    assert 0 < counting.encoded < 7
    assert len(qa.load_index(folder, embedder=counting).search("Danube", k=1)) == 1


def test_a_damaged_sentence_vector_is_left_out_then_re_embedded(fake_index: qa.Index, corpus: Path) -> None:
    folder = fake_index.folder
    with sqlite3.connect(folder / "index.db") as connection:
        rows = connection.execute(
            "SELECT s.passage_id, e.sha256, e.vector FROM sentences s JOIN embeddings e ON e.sha256 = s.sha256"
            " WHERE s.sha256 NOT IN (SELECT sha256 FROM windows)"
        ).fetchall()
        assert rows, "paragraphs of several sentences have sentence vectors of their own"
        passage_id, sha, vector = rows[0]
        connection.execute("UPDATE embeddings SET vector = ? WHERE sha256 = ?", (bytes(vector[:10]), sha))
    index = qa.load_index(folder, embedder=FakeEmbedder())
    query = index._retriever.embed("Danube")[0]
    # The damaged vector is not trusted (a short blob would not even decode); the passage's
    # other sentences still count, and every score is a real cosine.
    scores = index.snapshot.sentence_for(query, [passage_id])
    others = [r for r in rows if r[0] == passage_id and r[1] != sha]
    assert (passage_id in scores) == bool(others)
    assert all(-1.0001 <= value <= 1.0001 for value in scores.values())
    assert index.search("Danube", k=1)
    counting = FakeEmbedder()
    repaired = qa.build_index(corpus, folder, embedder=counting, verify=True)
    assert repaired.report is not None and repaired.report.repaired
    assert counting.encoded > 0
    with sqlite3.connect(folder / "index.db") as connection:
        sizes = {len(v) for (v,) in connection.execute("SELECT vector FROM embeddings")}
    assert sizes == {FakeEmbedder().dimension * 4}


def test_altered_passage_text_is_never_quoted(fake_index: qa.Index, fake: FakeEmbedder) -> None:
    with sqlite3.connect(fake_index.folder / "index.db") as connection:
        connection.execute(
            "UPDATE passages SET text = 'The Corner Bakery was founded on the Moon.'"
            " WHERE source = 'bakery.md' AND paragraph = 1"
        )
    index = qa.load_index(fake_index.folder, embedder=fake)
    answer = index.answer("When did the Corner Bakery open and what is it famous for?")
    files = {q.source: (fake_index.corpus / q.source).read_text(encoding="utf-8") for q in answer.quotes}
    assert answer.quotes
    for quote in answer.quotes:
        assert "Moon" not in quote.text
        assert files[quote.source][quote.start_char : quote.end_char] == quote.text


def test_old_format_folder_is_explained_and_rebuilt(tmp_path: Path, corpus: Path, fake: FakeEmbedder) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format_version": 1, "model": "x"}))
    (folder / "passages-abc.jsonl").write_text("{}\n")
    (folder / "vectors-abc.faiss").write_bytes(b"old")
    with pytest.raises(qa.IndexMismatchError, match=r"older format \(1\).*qa index"):
        qa.load_index(folder)
    rebuilt = qa.build_index(corpus, folder, embedder=fake)
    assert len(rebuilt) == 6
    assert not (folder / "passages-abc.jsonl").exists() and not (folder / "vectors-abc.faiss").exists()
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 3


def test_crash_mid_build_keeps_previous_index_and_resumes(
    fake_index: qa.Index, corpus: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fake_index.manifest
    (corpus / "new.txt").write_text("A brand new article about glaciers.\n\nAnd one on fjords.", encoding="utf-8")

    def explode(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(rows, "insert_passage", explode)
    counting = FakeEmbedder()
    with pytest.raises(OSError, match="disk full"):
        qa.build_index(corpus, fake_index.folder, embedder=counting)
    monkeypatch.undo()
    survivor = qa.load_index(fake_index.folder, embedder=fake)
    assert survivor.manifest == before
    assert len(survivor) == 6
    assert survivor.search("Etna volcano", k=1)[0].source == "volcano.txt"
    # The vectors computed before the crash were committed: the rerun embeds nothing again.
    embedded_before_crash = counting.encoded
    assert embedded_before_crash == 2
    rebuilt = qa.build_index(corpus, fake_index.folder, embedder=counting)
    assert len(rebuilt) == 8
    assert counting.encoded == embedded_before_crash
    assert not any(p.name.startswith(".tmp-") for p in fake_index.folder.iterdir())


def test_ids_of_unchanged_paragraphs_are_stable(fake_index: qa.Index, corpus: Path, fake: FakeEmbedder) -> None:
    def ids() -> dict[tuple[str, int], int]:
        with sqlite3.connect(fake_index.folder / "index.db") as connection:
            return {(s, p): i for i, s, p in connection.execute("SELECT id, source, paragraph FROM passages")}

    first = ids()
    (corpus / "volcano.txt").write_text("Etna sleeps.", encoding="utf-8")
    updated = qa.build_index(corpus, fake_index.folder, embedder=fake)
    second = ids()
    assert updated.generation == fake_index.generation + 1
    assert {k: v for k, v in first.items() if k[0] != "volcano.txt"} == {
        k: v for k, v in second.items() if k[0] != "volcano.txt"
    }
    assert second[("volcano.txt", 1)] not in first.values()


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


def test_corpus_without_paragraphs_is_a_clear_error(tmp_path: Path, fake: FakeEmbedder) -> None:
    corpus = write_corpus(tmp_path / "c", {"001.txt": "  \n\n "})
    with pytest.raises(qa.CorpusError, match=r"no paragraphs"):
        qa.build_index(corpus, tmp_path / "i", embedder=fake)
    with pytest.raises(qa.CorpusError, match=r"no text, Markdown, HTML, PDF or Word \(\.docx\) files"):
        qa.build_index(write_corpus(tmp_path / "empty", {"a.bin": "x"}), tmp_path / "j", embedder=fake)


def test_stop_words_only_corpus_builds_and_searches(tmp_path: Path, fake: FakeEmbedder) -> None:
    corpus = write_corpus(tmp_path / "c", {"001.txt": "The. And of."})
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    assert index.search("the and", k=1, retriever="lexical") == []
    assert len(index.search("and of", k=1, retriever="dense")) == 1


def test_totals_kept_by_difference_match_the_rows(fake_index: qa.Index, corpus: Path, fake: FakeEmbedder) -> None:
    (corpus / "volcano.txt").write_text("Etna sleeps.\n\nThe observatory is quiet.", encoding="utf-8")
    (corpus / "nested" / "rivers.txt").unlink()
    (corpus / "new.md").write_text("# Glaciers\n\nIce carves valleys slowly.", encoding="utf-8")
    updated = qa.build_index(corpus, fake_index.folder, embedder=fake)
    with sqlite3.connect(fake_index.folder / "index.db") as connection:
        rows = connection.execute(
            "SELECT (SELECT count(*) FROM passages), (SELECT count(*) FROM windows), (SELECT sum(length) FROM passages)"
        ).fetchone()
    meta = updated.snapshot.meta
    assert (meta.passage_count, meta.vector_count, meta.token_total) == rows
    assert len(updated) == rows[0] == 5


def test_unchanged_files_are_not_read_again(
    fake_index: qa.Index, corpus: Path, fake: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.ingest import sources

    read: list[str] = []
    original = sources.FolderSource.load

    def spy(self: sources.FolderSource, name: str) -> sources.Loaded:
        read.append(name)
        return original(self, name)

    monkeypatch.setattr(sources.FolderSource, "load", spy)
    (corpus / "volcano.txt").write_text("Etna sleeps.", encoding="utf-8")
    qa.build_index(corpus, fake_index.folder, embedder=fake)
    assert read == ["volcano.txt"]


def test_an_index_without_sentence_vectors_is_built_kept_and_searched(corpus: Path, tmp_path: Path) -> None:
    counting = FakeEmbedder()
    lean = qa.build_index(corpus, tmp_path / "lean", embedder=counting, settings=qa.Settings(sentences=False))
    full_counting = FakeEmbedder()
    full = qa.build_index(corpus, tmp_path / "full", embedder=full_counting)
    assert lean.manifest.passage_count == full.manifest.passage_count
    with sqlite3.connect(tmp_path / "lean" / "index.db") as connection:
        assert connection.execute("SELECT count(*) FROM sentences").fetchone() == (0,)
    with sqlite3.connect(tmp_path / "full" / "index.db") as connection:
        assert connection.execute("SELECT count(*) FROM sentences").fetchone()[0] > 0
    assert counting.encoded < full_counting.encoded
    # The choice is a fact of the index: loading and refreshing keep it, nothing is re-embedded.
    loaded = qa.load_index(tmp_path / "lean", embedder=counting)
    assert loaded.manifest.sentences is False and loaded.settings.sentences is False
    again = qa.ensure_index(tmp_path / "lean", corpus)
    assert again.manifest.sentences is False and again.manifest.generation == loaded.manifest.generation
    # Search works without them: the paragraph cosine stands in for the best sentence.
    assert [h.passage for h in loaded.search("Danube", k=3)]
    assert full.manifest.sentences is True
    # A program that does not choose (Settings.sentences is None) keeps it too; choosing switches.
    kept = qa.build_index(corpus, tmp_path / "lean", embedder=FakeEmbedder())
    assert kept.manifest.sentences is False and kept.settings.sentences is False
    assert kept.report is not None and kept.report.embedded == 0
    switched = qa.build_index(corpus, tmp_path / "lean", embedder=FakeEmbedder(), settings=qa.Settings(sentences=True))
    assert switched.manifest.sentences is True and switched.report is not None and switched.report.embedded > 0


def test_a_missing_sentence_vector_is_repaired_and_unused_vectors_are_swept(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    with sqlite3.connect(folder / "index.db") as connection:
        sha = connection.execute(
            "SELECT sha256 FROM sentences WHERE sha256 NOT IN (SELECT sha256 FROM windows) LIMIT 1"
        ).fetchone()[0]
        connection.execute("DELETE FROM embeddings WHERE sha256 = ?", (sha,))
    repaired = qa.build_index(corpus, folder, embedder=FakeEmbedder(), verify=True)
    assert repaired.report is not None and any("missing" in r for r in repaired.report.repaired)
    with sqlite3.connect(folder / "index.db") as connection:
        assert connection.execute("SELECT count(*) FROM embeddings WHERE sha256 = ?", (sha,)).fetchone() == (1,)
    # Rebuilt without sentences, the sentence-only vectors are gone, not kept unused.
    qa.build_index(corpus, folder, embedder=FakeEmbedder(), settings=qa.Settings(sentences=False))
    with sqlite3.connect(folder / "index.db") as connection:
        unused = connection.execute(
            "SELECT count(*) FROM embeddings WHERE sha256 NOT IN (SELECT sha256 FROM windows)"
        ).fetchone()[0]
    assert unused == 0


def test_damage_that_keeps_a_files_identity_is_found_by_qa_index_check(
    fake_index: qa.Index, corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import qa.update
    from qa.cli import main
    from qa.store import integrity
    from qa.store.runs import BuildOptions

    folder = fake_index.folder
    monkeypatch.setattr(integrity, "RACY_NS", -(10**12))
    # The CLI's model: the fake one the index was built with.
    monkeypatch.setattr(qa.update, "load_embedder", lambda model: FakeEmbedder())
    with contextlib.closing(sqlite3.connect(folder / "index.db")) as connection, connection:
        connection.execute(
            "UPDATE embeddings SET vector = zeroblob(length(vector))"
            " WHERE sha256 = (SELECT sha256 FROM windows LIMIT 1)"
        )
    # As a bad disk block would leave it: damaged, yet stamped as it was verified.
    stamps = integrity.Stamps(folder)
    stamps.record_database(stamps.database_seen())
    stamps.save(set())
    with pytest.raises(qa.IndexCorruptError, match=r"run `qa index --check` to repair"):
        qa.load_index(folder, embedder=FakeEmbedder())
    # The stamp vouches for the database: a plain verifying update does not read it through ...
    plain = qa.update.update_index(corpus, folder, embedder=FakeEmbedder(), options=BuildOptions(verify=True))
    assert plain.repaired == () and plain.embedded == 0
    capsys.readouterr()
    # ... --check does, whatever the stamps say, and repairs it.
    # (The CLI names the model it loads: the fake one, by the name the index records.)
    assert main(["index", str(corpus), "--out", str(folder), "--check", "--quiet", "--model", "fake-embedder"]) == 0
    assert "repaired: 1 damaged stored vectors re-embedded" in capsys.readouterr().err
    assert len(qa.load_index(folder, embedder=FakeEmbedder())) == len(fake_index)


def test_the_summary_counts_every_file_the_index_knows_skipped_ones_too(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Gulls nest on the tower.", "b.txt": "Terns do not."})
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02")
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    summary = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert index.report is not None and len(index.report.skipped) == 2
    assert summary["file_count"] == 4 and summary["passage_count"] == len(index) == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [("epoch", "not json"), ("generation", "1.5"), ("generation", '"7"'), ("junk", "["), ("model", "[" * 100_000)],
    ids=["garbled", "fraction", "text", "unknown-key", "deep"],
)
def test_malformed_metadata_is_named_by_readers_and_mended_by_the_next_update(
    tmp_path: Path, key: str, value: str
) -> None:
    corpus = write_corpus(tmp_path / "c")
    qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder())
    with contextlib.closing(sqlite3.connect(tmp_path / "i" / "index.db")) as connection:
        connection.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
        connection.commit()
    with pytest.raises(qa.IndexCorruptError, match=r"metadata .* is malformed"):
        qa.load_index(tmp_path / "i", embedder=FakeEmbedder())
    said: list[str] = []
    mended = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder(), notify=said.append)
    assert any("metadata was malformed" in line and "rebuilt from scratch" in line for line in said)
    assert mended.report.embedded == 0  # the stored vectors are reused
    again = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder())
    assert again.report.updated_files == 0 and len(again) == len(mended)
    assert qa.load_index(tmp_path / "i", embedder=FakeEmbedder()).answer("Etna").quotes


class Precise(FakeEmbedder):
    """A fake with the document methods of the real model: int8 vectors differ from fp32 ones."""

    int8_ready = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def encode_int8(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        self.calls.append("int8")
        vectors = self.encode(texts) + 0.01
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def encode_documents(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        self.calls.append("fp32")
        return self.encode(texts)


def test_a_new_index_embeds_documents_in_int8_and_keeps_its_choice(corpus: Path, tmp_path: Path) -> None:
    model = Precise()
    index = qa.build_index(corpus, tmp_path / "index", embedder=model)
    assert index.manifest.int8 is True and index.settings.int8 is True
    assert set(model.calls) == {"int8"}
    # Questions are embedded in fp32: the stored vectors are the int8 ones.
    with sqlite3.connect(tmp_path / "index" / "index.db") as connection:
        assert connection.execute("SELECT value FROM meta WHERE key = 'vectors'").fetchone() == ('"int8"',)
    assert json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))["vectors"] == "int8"
    kept = qa.build_index(corpus, tmp_path / "index", embedder=Precise())
    assert kept.manifest.int8 is True and kept.report is not None and kept.report.embedded == 0
    # Switching re-embeds everything (the vector keys name the precision), in fp32.
    fp32 = Precise()
    switched = qa.build_index(corpus, tmp_path / "index", embedder=fp32, settings=qa.Settings(int8=False))
    assert switched.manifest.int8 is False and switched.report is not None
    assert switched.report.embedded == index.report.embedded and set(fp32.calls) == {"fp32"}  # type: ignore[union-attr]
    assert qa.load_index(tmp_path / "index", embedder=Precise()).settings.int8 is False


def test_an_index_from_before_int8_vectors_stays_fp32_without_a_rebuild(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    qa.build_index(corpus, folder, embedder=FakeEmbedder(), settings=qa.Settings(int8=False))
    with sqlite3.connect(folder / "index.db") as connection:
        connection.execute("DELETE FROM meta WHERE key = 'vectors'")
    model = Precise()
    again = qa.build_index(corpus, folder, embedder=model)
    assert again.manifest.int8 is False and again.report is not None and again.report.embedded == 0
    assert model.calls == []


def test_an_int8_index_is_never_filled_with_fp32_vectors(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    before = qa.build_index(corpus, folder, embedder=Precise())
    assert before.manifest.int8 is True
    # A model without an int8 twin (FakeEmbedder has none) cannot update it: a clear error, the index kept.
    (corpus / "new.txt").write_text("A paragraph that must be embedded.", encoding="utf-8")
    with pytest.raises(qa.QAError, match="no-int8"):
        qa.build_index(corpus, folder, embedder=FakeEmbedder())
    kept = qa.load_index(folder, embedder=Precise())
    assert kept.manifest.generation == before.manifest.generation and kept.manifest.int8 is True
    # A new index with such a model is fp32 from the start.
    assert qa.build_index(corpus, tmp_path / "plain", embedder=FakeEmbedder()).manifest.int8 is False


@pytest.mark.parametrize("kind", ["folder", "link"])
def test_a_writer_lock_that_is_not_a_file_is_moved_aside(corpus: Path, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "index"
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    lock = folder / "writer.lock"
    lock.unlink()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    if kind == "folder":
        (lock / "inside").mkdir(parents=True)
    else:
        lock.symlink_to(victim)
    (corpus / "new.txt").write_text("A paragraph that arrives later.", encoding="utf-8")
    updated = qa.build_index(corpus, folder, embedder=FakeEmbedder())
    assert updated.report is not None and updated.report.updated_files == 1
    assert any("writer lock" in r and "moved aside" in r for r in updated.report.repaired)
    # The lock is a plain file again; what was there is kept aside, and a link was never followed.
    assert lock.is_file() and not lock.is_symlink()
    assert len(list(folder.glob("writer.lock.damaged-*"))) == 1
    assert victim.read_text(encoding="utf-8") == "keep me"


def test_reused_counts_the_paragraph_vectors_kept_whatever_sentences_were_embedded(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "First kept paragraph.\n\nSecond kept paragraph."})
    folder = tmp_path / "index"
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    # One new paragraph of five sentences: six texts embedded, the two old paragraph vectors kept.
    sentences = " ".join(f"Sentence number {n} of the new paragraph." for n in range(5))
    (corpus / "b.txt").write_text(sentences, encoding="utf-8")
    report = qa.build_index(corpus, folder, embedder=FakeEmbedder()).report
    assert report is not None and (report.vectors, report.embedded, report.reused) == (3, 6, 2)


def test_a_damaged_database_is_rebuilt_keeping_the_vectors_that_can_still_be_read(tmp_path: Path) -> None:
    """Before: every paragraph was embedded again (604 s for 6,412 paragraphs)."""
    from test_concurrency import write_articles

    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=120)
    first = FakeEmbedder()
    built = qa.build_index(corpus, folder, embedder=first)
    expected = [h.passage.key for h in built.search("Which museum keeps maps?", 5)]
    built.snapshot.close()
    for suffix in ("-wal", "-shm"):
        (folder / f"index.db{suffix}").unlink(missing_ok=True)
    # A run of pages in the middle of the file overwritten: some rows are lost, most are not.
    database = folder / "index.db"
    data = bytearray(database.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 4 * 4096] = b"\xa5" * (4 * 4096)
    database.write_bytes(bytes(data))
    again = FakeEmbedder()
    messages: list[str] = []
    repaired = qa.build_index(corpus, folder, embedder=again, verify=True, notify=messages.append)
    assert repaired.report is not None and any("stored vectors kept" in r for r in repaired.report.repaired)
    kept = int(next(r for r in repaired.report.repaired if "kept" in r).split("(")[1].split()[0])
    assert kept > 0 and again.encoded < first.encoded
    assert again.encoded + kept >= first.encoded * 0.9
    assert [h.passage.key for h in repaired.search("Which museum keeps maps?", 5)] == expected


def test_salvage_reads_past_a_huge_id_and_damaged_pages_without_scanning_every_id(tmp_path: Path) -> None:
    """A garbled id of 2^50 once meant 4 × 10^12 range queries while the writer lock was held."""
    import sqlite3

    from qa.store.repair import salvage_vectors

    path = tmp_path / "damaged.db"
    dimension = 8
    vector = (np.ones(dimension) / np.sqrt(dimension)).astype(np.float32).tobytes()
    with sqlite3.connect(path) as source:
        source.execute("CREATE TABLE embeddings(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, vector BLOB)")
        source.executemany("INSERT INTO embeddings VALUES (?, ?, ?)", [(n, f"k{n}", vector) for n in range(1, 3001)])
        source.execute("UPDATE embeddings SET id = ? WHERE id = 3000", (2**50,))
        source.execute("INSERT INTO embeddings VALUES (?, ?, ?)", (5000, "garbled", bytes(5)))

    def salvaged() -> tuple[int, sqlite3.Connection]:
        target = sqlite3.connect(":memory:", isolation_level=None)
        target.execute("CREATE TABLE embeddings(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, vector BLOB)")
        return salvage_vectors(path, target), target

    # Every sound vector, the one at id 2^50 too; the garbled one is not kept.
    kept, target = salvaged()
    assert kept == 3000 and target.execute("SELECT count(*) FROM embeddings WHERE sha256 = 'k3000'").fetchone()[0]
    # Pages in the middle of the table damaged: the rows before and after them are still kept.
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 3 * 4096] = bytes([0xA5]) * (3 * 4096)
    path.write_bytes(bytes(data))
    kept, target = salvaged()
    keys = {row[0] for row in target.execute("SELECT sha256 FROM embeddings")}
    assert 0 < kept < 3000 and {"k1", "k2999"} <= keys
