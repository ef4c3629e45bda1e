"""Freezing the base: when it is rewritten, what it holds, damage found and mended, and the folder cleaned after."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa.errors import IndexCorruptError
from qa.store import database as db
from qa.store import freeze, integrity, rows
from qa.store.codec import passage_of
from qa.store.integrity import STAMPS, Stamps, file_sha256
from qa.store.repair import Repairs
from qa.store.segments import Segment, checksum
from qa.store.vectors import BaseVectors


@dataclass
class Writer:
    """What :func:`freeze` is called with, over a tiny index built without a base."""

    folder: Path
    connection: sqlite3.Connection
    messages: list[str]
    repairs: Repairs
    stamps: Stamps

    def freeze(self, *, trust: bool = True) -> bool:
        return freeze.freeze(self.connection, self.folder, self.repairs, self.stamps, trust=trust)

    def meta(self) -> db.Meta:
        return db.Meta.read(self.connection, self.folder)

    def count(self, query: str) -> int:
        return int(self.connection.execute(query).fetchone()[0])


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    corpus = write_corpus(tmp_path / "corpus")
    folder = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder()).folder
    connection = db.connect(folder)
    messages: list[str] = []
    yield Writer(folder, connection, messages, Repairs(messages.append), Stamps(folder))
    connection.close()


@pytest.fixture
def frozen(writer: Writer, monkeypatch: pytest.MonkeyPatch) -> Writer:
    """The writer's index with every vector and passage in a base."""
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    assert writer.freeze()
    monkeypatch.setattr(freeze, "MERGE_MIN", 5000)
    return writer


def base_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(("vectors-", "lexical-")))


# -- when the base is rewritten -----------------------------------------------------------------


def test_a_few_changes_leave_the_base_as_it_is(writer: Writer) -> None:
    before = writer.meta()
    assert writer.freeze() is False
    assert writer.meta() == before and before.base_file == ""
    assert base_names(writer.folder) == [] and writer.messages == []


def test_the_base_is_rewritten_only_once_more_than_merge_min_vectors_changed(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows = writer.count("SELECT count(*) FROM windows")
    assert windows == 6
    monkeypatch.setattr(freeze, "MERGE_MIN", windows)
    assert writer.freeze() is False and writer.meta().base_file == ""
    monkeypatch.setattr(freeze, "MERGE_MIN", windows - 1)
    assert writer.freeze() is True and writer.meta().base_file != ""


def test_removed_vectors_count_as_changes_too(frozen: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    generation = frozen.meta().generation + 1
    with db.transaction(frozen.connection):
        rows.drop_file(frozen.connection, "volcano.txt", generation, set())
        db.write_meta(frozen.connection, {"generation": generation})
    monkeypatch.setattr(freeze, "MERGE_MIN", 1)
    # Two windows removed since the base: more than one changed.
    assert frozen.freeze() is True
    assert frozen.meta().base_count == 4


def test_a_tenth_of_a_large_base_must_change_before_it_is_rewritten(
    frozen: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    with db.transaction(frozen.connection):
        db.write_meta(frozen.connection, {"base_count": 60})
        frozen.connection.execute("INSERT INTO removed(vector_id, generation) VALUES (1, 99), (2, 99), (3, 99)")
    monkeypatch.setattr(freeze, "base_ok", lambda *args, **kwargs: True)
    # Three changes of a base of 60: not more than a tenth (6).
    assert frozen.freeze() is False
    with db.transaction(frozen.connection):
        frozen.connection.execute(
            "INSERT INTO removed(vector_id, generation) VALUES (4, 99), (5, 99), (6, 99), (7, 99)"
        )
    assert frozen.freeze() is True


# -- what the base holds ------------------------------------------------------------------------


def test_a_frozen_base_holds_every_window_and_passage_and_the_meta_names_it(frozen: Writer) -> None:
    meta = frozen.meta()
    assert meta.base_file.startswith("vectors-") and meta.base_file.endswith(".faiss")
    assert meta.lexical_file.startswith("lexical-") and meta.lexical_file[8:] == meta.base_file[8:-6]
    assert meta.base_generation == meta.generation and meta.base_count == 6
    assert meta.base_sha256 == file_sha256(frozen.folder / meta.base_file)
    assert meta.lexical_sha256 == checksum(frozen.folder / meta.lexical_file)
    base = BaseVectors.open(
        frozen.folder / meta.base_file, sha256=meta.base_sha256, count=meta.base_count, dimension=meta.dimension
    )
    windows = [r[0] for r in frozen.connection.execute("SELECT id FROM windows ORDER BY id")]
    assert len(base) == 6
    np.testing.assert_allclose(np.linalg.norm(base.reconstruct(np.array(windows)), axis=1), 1.0, rtol=1e-5)
    segment = Segment.open(frozen.folder / meta.lexical_file, meta.lexical_sha256)
    passages = frozen.connection.execute("SELECT id, length FROM passages ORDER BY id").fetchall()
    assert segment.doc_ids.tolist() == [p[0] for p in passages] == sorted(set(passage_of(np.array(windows)).tolist()))
    assert segment.doc_len.tolist() == [float(p[1]) for p in passages]


def test_the_term_list_gives_each_term_its_column_in_the_segment(frozen: Writer) -> None:
    meta = frozen.meta()
    segment = Segment.open(frozen.folder / meta.lexical_file, meta.lexical_sha256)
    columns = dict(frozen.connection.execute("SELECT term, col FROM lexical_terms"))
    assert sorted(columns.values()) == list(range(segment.terms))
    for pid, terms in frozen.connection.execute("SELECT id, terms FROM passages"):
        (row,) = np.flatnonzero(segment.doc_ids == pid)
        for term in set(terms.split()):
            rows_, tf = segment.postings(columns[term])
            assert tf[rows_.tolist().index(row)] == terms.split().count(term)


def test_removals_the_new_base_covers_are_forgotten(writer: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    generation = writer.meta().generation + 1
    with db.transaction(writer.connection):
        rows.drop_file(writer.connection, "bakery.md", generation, set())
        db.write_meta(writer.connection, {"generation": generation})
        writer.connection.execute("INSERT INTO removed(vector_id, generation) VALUES (123456789, ?)", (generation + 5,))
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    assert writer.freeze()
    # Only a removal from a later generation than the base (as a concurrent writer might leave) is kept.
    assert writer.connection.execute("SELECT vector_id FROM removed").fetchall() == [(123456789,)]
    assert writer.meta().base_count == 4


def test_the_files_written_are_stamped_for_the_next_open(frozen: Writer) -> None:
    meta = frozen.meta()
    frozen.stamps.save({meta.base_file, meta.lexical_file})
    saved = json.loads((frozen.folder / STAMPS).read_text(encoding="utf-8"))
    assert saved[meta.base_file]["sha256"] == meta.base_sha256
    assert saved[meta.lexical_file]["sha256"] == meta.lexical_sha256
    assert len(saved[meta.lexical_file]["files"]) == 5


def test_an_index_whose_every_passage_is_gone_gets_an_empty_base(
    frozen: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    generation = frozen.meta().generation + 1
    with db.transaction(frozen.connection):
        for source in ("volcano.txt", "bakery.md", "nested/rivers.txt"):
            rows.drop_file(frozen.connection, source, generation, set())
        db.write_meta(frozen.connection, {"generation": generation})
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    assert frozen.freeze() is True
    meta = frozen.meta()
    assert (meta.base_file, meta.base_count, meta.base_sha256, meta.lexical_file, meta.lexical_sha256) == (
        "",
        0,
        "",
        "",
        "",
    )
    assert meta.base_generation == generation
    assert frozen.count("SELECT count(*) FROM lexical_terms") == 0


def test_a_damaged_stored_vector_stops_the_freeze_with_a_corrupt_error(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = writer.meta()
    # 256 zeros: the right length, but not a unit vector.
    writer.connection.execute(
        "UPDATE embeddings SET vector = zeroblob(1024) WHERE sha256 = (SELECT min(sha256) FROM windows)"
    )
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    with pytest.raises(IndexCorruptError, match=r"stored vectors .* are damaged; run `qa index --check`"):
        writer.freeze()
    assert writer.meta() == before
    assert not any(name.endswith(".faiss") and not name.startswith(".tmp-") for name in base_names(writer.folder))


def test_a_missing_stored_vector_stops_the_freeze_with_a_corrupt_error(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = writer.meta()
    writer.connection.execute("DELETE FROM embeddings WHERE sha256 = (SELECT min(sha256) FROM windows)")
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    with pytest.raises(IndexCorruptError, match="5 vectors, expected 6"):
        writer.freeze()
    assert writer.meta() == before


# -- a damaged base -----------------------------------------------------------------------------


def test_a_sound_base_is_ok_and_stamped(frozen: Writer) -> None:
    meta = frozen.meta()
    fresh = Stamps(frozen.folder)
    assert freeze.base_ok(frozen.folder, meta, fresh, trust=False) is True
    fresh.save({meta.base_file, meta.lexical_file})
    assert set(json.loads((frozen.folder / STAMPS).read_text(encoding="utf-8"))) == {meta.base_file, meta.lexical_file}


@pytest.mark.parametrize("part", ["vectors", "lexical"])
def test_a_damaged_base_file_is_not_ok(frozen: Writer, part: str) -> None:
    meta = frozen.meta()
    path = frozen.folder / meta.base_file if part == "vectors" else frozen.folder / meta.lexical_file / "tf.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert freeze.base_ok(frozen.folder, meta, Stamps(frozen.folder)) is False


def test_a_missing_base_folder_is_not_ok(frozen: Writer) -> None:
    meta = frozen.meta()
    for path in (frozen.folder / meta.lexical_file).iterdir():
        path.unlink()
    (frozen.folder / meta.lexical_file).rmdir()
    assert freeze.base_ok(frozen.folder, meta, Stamps(frozen.folder)) is False


def test_trusted_stamps_spare_the_check_unless_trust_is_off(frozen: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = frozen.meta()
    monkeypatch.setattr(integrity, "RACY_NS", -(10**12))
    stamps = Stamps(frozen.folder)
    assert freeze.base_ok(frozen.folder, meta, stamps, trust=False)
    opened: list[str] = []

    def refuse(path: Path, sha256: str, **kwargs: object) -> Segment:
        opened.append(path.name)
        raise IndexCorruptError("damaged")

    monkeypatch.setattr(freeze.Segment, "open", refuse)
    assert freeze.base_ok(frozen.folder, meta, stamps) is True and opened == []
    assert freeze.base_ok(frozen.folder, meta, stamps, trust=False) is False and opened == [meta.lexical_file]


def test_a_damaged_base_is_rebuilt_and_named_however_little_changed(frozen: Writer) -> None:
    meta = frozen.meta()
    (frozen.folder / meta.base_file).write_bytes(b"not a faiss file")
    assert frozen.freeze() is True
    rebuilt = frozen.meta()
    assert rebuilt.base_file != meta.base_file and rebuilt.base_count == 6
    assert frozen.repairs.done == [f"vector file {meta.base_file} and keyword segment {meta.lexical_file} rebuilt"]
    assert len(frozen.messages) == 1 and "damaged" in frozen.messages[0]
    assert freeze.base_ok(frozen.folder, rebuilt, Stamps(frozen.folder), trust=False)


# -- cleaning -----------------------------------------------------------------------------------


def test_clean_removes_only_stale_files_this_package_writes(frozen: Writer) -> None:
    meta = frozen.meta()
    folder = frozen.folder
    stale = [".tmp-vectors-x.faiss", "passages-1.jsonl", "vectors-old.faiss"]
    kept = ["notes.txt", "passages-notes.txt", "vectors-old.txt", "lexical-file", "my.faiss"]
    for name in stale + kept:
        (folder / name).write_text("x", encoding="utf-8")
    for name in ("lexical-old", ".tmp-lexical-new", ".tmp-gone-lexical-older"):
        (folder / name).mkdir()
        (folder / name / "tf.npy").write_bytes(b"x")
    freeze.clean(frozen.connection, folder, set(), sweep_all=False)
    names = {p.name for p in folder.iterdir()}
    assert names.isdisjoint({*stale, "lexical-old", ".tmp-lexical-new", ".tmp-gone-lexical-older"})
    assert {*kept, meta.base_file, meta.lexical_file, db.DATABASE, "manifest.json"} <= names
    assert not any(n.startswith(".tmp-gone-") for n in names)


def test_clean_after_a_rebuild_removes_the_previous_base(frozen: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    old = frozen.meta()
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    frozen.connection.execute("INSERT INTO removed(vector_id, generation) VALUES (1, 99)")
    assert frozen.freeze()
    new = frozen.meta()
    assert set(base_names(frozen.folder)) == {old.base_file, old.lexical_file, new.base_file, new.lexical_file}
    freeze.clean(frozen.connection, frozen.folder, set(), sweep_all=True)
    assert base_names(frozen.folder) == sorted([new.base_file, new.lexical_file])


def test_sweeping_dropped_vectors_keeps_those_still_used(writer: Writer) -> None:
    used = [r[0] for r in writer.connection.execute("SELECT sha256 FROM windows")]
    sentence = writer.connection.execute("SELECT sha256 FROM sentences LIMIT 1").fetchone()[0]
    rows.store_vectors(writer.connection, ["orphan-a", "orphan-b"], np.eye(2, 256, dtype=np.float32))
    freeze.clean(writer.connection, writer.folder, {"orphan-a", used[0], sentence}, sweep_all=False)
    stored = {r[0] for r in writer.connection.execute("SELECT sha256 FROM embeddings")}
    assert "orphan-a" not in stored
    # Not dropped: kept until a sweep of all; used by a window or a sentence: kept.
    assert {"orphan-b", used[0], sentence} <= stored


def test_sweeping_all_removes_every_vector_nothing_uses(writer: Writer) -> None:
    rows.store_vectors(writer.connection, ["orphan-a", "orphan-b"], np.eye(2, 256, dtype=np.float32))
    freeze.clean(writer.connection, writer.folder, set(), sweep_all=True)
    stored = {r[0] for r in writer.connection.execute("SELECT sha256 FROM embeddings")}
    used = {r[0] for r in writer.connection.execute("SELECT sha256 FROM windows UNION SELECT sha256 FROM sentences")}
    assert stored == used and "orphan-a" not in stored


def test_sweeping_more_dropped_vectors_than_one_sql_list(writer: Writer) -> None:
    names = [f"orphan-{n}" for n in range(1100)]
    rows.store_vectors(writer.connection, names, np.tile(np.eye(1, 256, dtype=np.float32), (1100, 1)))
    freeze.clean(writer.connection, writer.folder, set(names), sweep_all=False)
    assert writer.count("SELECT count(*) FROM embeddings WHERE sha256 LIKE 'orphan-%'") == 0


def test_a_keyword_folder_its_owner_cannot_list_is_still_removed(frozen: Writer) -> None:
    """Before: rmtree could not list it, and a `.tmp-gone-*` folder stayed behind for good."""
    folder = frozen.folder
    old = folder / "lexical-old"
    old.mkdir()
    (old / "tf.npy").write_bytes(b"x")
    old.chmod(0)
    freeze.clean(frozen.connection, folder, set(), sweep_all=False)
    names = {p.name for p in folder.iterdir()}
    assert "lexical-old" not in names and not any(n.startswith(".tmp-gone-") for n in names)
