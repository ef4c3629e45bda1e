"""Checksum stamps: a file verified once is trusted until it changes; a fresh stamp is not trusted yet."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa.store import integrity
from qa.store.integrity import STAMPS, Stamps, file_sha256


@pytest.fixture
def vectors(tmp_path: Path) -> Path:
    path = tmp_path / "vectors-1.faiss"
    path.write_bytes(b"\x01" * 4096)
    return path


def test_a_stamped_file_is_trusted_until_it_changes(vectors: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The change time cannot be set back: the stamp is taken as if well after the file was written.
    monkeypatch.setattr(integrity, "RACY_NS", -(10**12))
    digest = file_sha256(vectors)
    stamps = Stamps(vectors.parent)
    stamps.record(vectors.name, [vectors], digest)
    assert stamps.trusted(vectors.name, [vectors], digest)
    assert not stamps.trusted(vectors.name, [vectors], "another checksum")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], digest), "not saved yet"
    stamps.save({vectors.name})
    again = Stamps(vectors.parent)
    assert again.trusted(vectors.name, [vectors], digest)
    # Overwritten in place, same size: its change time moves, so it is hashed again.
    with vectors.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x02")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], digest)


def test_a_stamp_taken_just_after_a_write_is_not_trusted(vectors: Path) -> None:
    stamps = Stamps(vectors.parent)
    stamps.record(vectors.name, [vectors], file_sha256(vectors))
    # A write in the same tick of the file system's clock could leave the times as they were.
    assert not stamps.trusted(vectors.name, [vectors], file_sha256(vectors))


def test_a_stamp_taken_a_while_after_the_last_write_is_trusted(vectors: Path) -> None:
    time.sleep(integrity.RACY_NS / 1e9 * 1.5)
    stamps = Stamps(vectors.parent)
    stamps.record(vectors.name, [vectors], "digest")
    assert stamps.trusted(vectors.name, [vectors], "digest")


def test_a_segment_is_stamped_by_all_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity, "RACY_NS", -(10**12))
    files = [tmp_path / f"{n}.npy" for n in "abc"]
    for path in files:
        path.write_bytes(b"x")
    stamps = Stamps(tmp_path)
    stamps.record("lexical-1", files, "d")
    assert stamps.trusted("lexical-1", files, "d")
    files[1].write_bytes(b"yy")
    assert not stamps.trusted("lexical-1", files, "d")
    files[2].unlink()
    assert not stamps.trusted("lexical-1", files, "d")


def test_the_database_stamp_follows_the_database_and_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity, "RACY_NS", -(10**12))
    (tmp_path / "index.db").write_bytes(b"db")
    stamps = Stamps(tmp_path)
    assert not stamps.database_verified()
    stamps.record_database()
    assert stamps.database_verified()
    (tmp_path / "index.db-wal").write_bytes(b"frames")
    assert not stamps.database_verified()
    stamps.record_database()
    stamps.forget_database()
    assert not stamps.database_verified()


def test_damaged_or_unwritable_stamps_cost_only_time(tmp_path: Path, vectors: Path) -> None:
    (vectors.parent / STAMPS).write_text("{not json", encoding="utf-8")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], "d")
    (vectors.parent / STAMPS).write_text('{"vectors-1.faiss": {"files": [[1, 2]]}}', encoding="utf-8")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], "d")
    # A folder that cannot be written keeps its old stamps, without an error.
    missing = Stamps(tmp_path / "no-such-folder")
    missing.record(vectors.name, [vectors], "d")
    missing.save({vectors.name})
    assert not (tmp_path / "no-such-folder").exists()
