"""Snapshots: one committed state, searched while writers go on; base files checksummed once, then trusted."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa.store import freeze, integrity, segments, vectors
from qa.store.snapshot import Snapshot


@pytest.fixture
def merged(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An index whose vectors are all in a frozen base file."""
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    return tmp_path / "index"


def hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count every checksum of a base vector file or keyword segment computed from here on."""
    hashed: list[str] = []
    # Base files are read once and their bytes hashed: one call per vector file, one per segment.
    vectors_sha256, segment_sha256 = vectors.bytes_sha256, segments.bytes_sha256
    monkeypatch.setattr(vectors, "bytes_sha256", lambda *parts: hashed.append("vectors") or vectors_sha256(*parts))
    monkeypatch.setattr(segments, "bytes_sha256", lambda *parts: hashed.append("segment") or segment_sha256(*parts))
    return hashed


def test_a_snapshot_shows_what_was_committed(fake_index: qa.Index) -> None:
    snapshot = Snapshot.open(fake_index.folder)
    assert len(snapshot) == 6 and snapshot.generation == fake_index.generation
    assert snapshot.sources() == ["bakery.md", "nested/rivers.txt", "volcano.txt"]
    assert snapshot.folders() == ["nested/"]
    assert set(snapshot.indexed) == set(snapshot.sources()) and snapshot.indexed["bakery.md"].skipped is None
    passages = snapshot.all_passages()
    assert [(p.source, p.paragraph) for p in passages][:2] == [("bakery.md", 1), ("bakery.md", 2)]
    snapshot.close()


def test_a_snapshot_keeps_its_state_while_a_writer_commits(fake_index: qa.Index, corpus: Path) -> None:
    old = Snapshot.open(fake_index.folder)
    (corpus / "volcano.txt").write_text("Only one paragraph about Etna remains.\n", encoding="utf-8")
    (corpus / "new.txt").write_text("Glaciers carve fjords.\n", encoding="utf-8")
    qa.build_index(corpus, fake_index.folder, embedder=FakeEmbedder())
    new = Snapshot.open(fake_index.folder)
    assert new.generation > old.generation
    assert "new.txt" not in old.sources() and "new.txt" in new.sources()
    assert sum(p.source == "volcano.txt" for p in old.all_passages()) == 2
    assert sum(p.source == "volcano.txt" for p in new.all_passages()) == 1
    old.close()
    new.close()


def test_dense_search_scores_a_passage_by_its_best_window(tmp_path: Path) -> None:
    long = " ".join(f"word{n}" for n in range(60)) + " lighthouse keeper"
    corpus = write_corpus(tmp_path / "c", {"long.txt": long, "other.txt": "Nothing about the sea here."})
    fake = FakeEmbedder(max_tokens=20)
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    snapshot = index.snapshot
    query = fake.encode(["lighthouse keeper"])[0]
    best = snapshot.dense_top(query, 10)
    pid = next(p for p, c in snapshot.candidates(list(best)).items() if c.passage.source == "long.txt")
    owners, windows = snapshot.vectors_of([pid])
    assert len(owners) > 1, "the long paragraph is windowed"
    # Its score is its best window's, exactly.
    assert best[pid] == pytest.approx(float((windows @ query).max()), abs=1e-6)
    assert snapshot.dense_for(query, [pid])[pid] == pytest.approx(best[pid], abs=1e-6)


def test_candidates_carry_their_vector_and_sketch(fake_index: qa.Index) -> None:
    snapshot = fake_index.snapshot
    ids = list(snapshot.dense_top(FakeEmbedder().encode(["Danube"])[0], 3))
    found = snapshot.candidates(ids)
    assert set(found) == set(ids)
    for candidate in found.values():
        assert (
            candidate.vector.shape == (snapshot.dimension,) and abs(float(np.linalg.norm(candidate.vector)) - 1) < 1e-5
        )
        assert len(candidate.signature) == 64 * 4


def test_base_files_are_checksummed_once_then_trusted_until_they_change(
    merged: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "RACY_NS", 200_000_000)
    hashed = hashing(monkeypatch)
    # Stamped as they were written: too fresh to trust, so the first open hashes them.
    Snapshot.open(merged).close()
    assert len(hashed) == 2
    # A verifying update a moment later checks them once more and stamps them for good ...
    time.sleep(integrity.RACY_NS / 1e9 * 1.5)
    hashed.clear()
    report = qa.build_index(corpus, merged, embedder=FakeEmbedder(), verify=True).report
    assert report is not None and report.repaired == () and len(hashed) == 2
    # ... after which neither an open nor a verifying update with nothing to do hashes them again.
    hashed.clear()
    Snapshot.open(merged).close()
    qa.build_index(corpus, merged, embedder=FakeEmbedder(), verify=True)
    assert hashed == []
    # Overwritten in place (same size): hashed again, and named as damaged.
    meta_file = next(merged.glob("vectors-*.faiss"))
    with meta_file.open("r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"\xff" * 8)
    with pytest.raises(qa.IndexCorruptError, match="checksum mismatch"):
        Snapshot.open(merged)
    assert hashed == ["vectors"]
