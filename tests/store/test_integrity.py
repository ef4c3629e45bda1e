"""Checksum stamps: a file verified once is trusted until it changes; a fresh or raced stamp is never trusted."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.store import integrity
from qa.store.integrity import STAMPS, Seen, Stamps, file_sha256


@pytest.fixture
def vectors(tmp_path: Path) -> Path:
    path = tmp_path / "vectors-1.faiss"
    path.write_bytes(b"\x01" * 4096)
    return path


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stamps count as taken long after the files' last change (their change time cannot be set back)."""
    monkeypatch.setattr(integrity, "RACY_NS", -(10**12))


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail, rather than hang, if a FIFO is ever opened for reading."""

    def fail(_signal: int, _frame: object) -> None:
        raise TimeoutError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def stamp(stamps: Stamps, path: Path) -> str:
    """Check ``path`` the way the writer does (identity seen first, then the hash) and stamp it."""
    seen = Seen.now([path])
    digest = file_sha256(path)
    stamps.record(path.name, seen, [path], digest)
    return digest


def test_a_stamped_file_is_trusted_until_it_changes(vectors: Path, quick: None) -> None:
    stamps = Stamps(vectors.parent)
    digest = stamp(stamps, vectors)
    assert stamps.trusted(vectors.name, [vectors], digest)
    assert not stamps.trusted(vectors.name, [vectors], "another checksum")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], digest), "not saved yet"
    stamps.save({vectors.name})
    assert Stamps(vectors.parent).trusted(vectors.name, [vectors], digest)
    # Overwritten in place, same size: its change time moves, so it is hashed again.
    with vectors.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x02")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], digest)


def test_a_file_that_changes_while_it_is_hashed_is_not_stamped(vectors: Path, quick: None) -> None:
    stamps = Stamps(vectors.parent)
    seen = Seen.now([vectors])
    digest = file_sha256(vectors)
    # Damaged after the identity was seen, before the stamp is recorded (a hash of 1.5 GB takes seconds).
    time.sleep(0.01)
    with vectors.open("r+b") as handle:
        handle.write(b"\xff")
    stamps.record(vectors.name, seen, [vectors], digest)
    assert not stamps.trusted(vectors.name, [vectors], digest)
    assert not stamps.trusted(vectors.name, [vectors], file_sha256(vectors))


def test_a_stamp_taken_just_after_a_write_is_not_trusted(vectors: Path) -> None:
    stamps = Stamps(vectors.parent)
    digest = stamp(stamps, vectors)
    # A write in the same tick of the file system's clock could leave the times as they were.
    assert integrity.RACY_NS >= 2_000_000_000
    assert not stamps.trusted(vectors.name, [vectors], digest)


def test_a_stamp_taken_a_while_after_the_last_write_is_trusted(vectors: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity, "RACY_NS", 200_000_000)
    time.sleep(0.3)
    stamps = Stamps(vectors.parent)
    digest = stamp(stamps, vectors)
    assert stamps.trusted(vectors.name, [vectors], digest)


def test_a_segment_is_stamped_by_all_its_files(tmp_path: Path, quick: None) -> None:
    files = [tmp_path / f"{n}.npy" for n in "abc"]
    for path in files:
        path.write_bytes(b"x")
    stamps = Stamps(tmp_path)
    stamps.record("lexical-1", Seen.now(files), files, "d")
    assert stamps.trusted("lexical-1", files, "d")
    files[1].write_bytes(b"yy")
    assert not stamps.trusted("lexical-1", files, "d")
    files[2].unlink()
    assert not stamps.trusted("lexical-1", files, "d")


def test_the_database_stamp_follows_the_database_and_its_log(tmp_path: Path, quick: None) -> None:
    (tmp_path / "index.db").write_bytes(b"db")
    stamps = Stamps(tmp_path)
    assert not stamps.database_verified()
    stamps.record_database(stamps.database_seen())
    assert stamps.database_verified()
    (tmp_path / "index.db-wal").write_bytes(b"frames")
    assert not stamps.database_verified()
    # Seen before a change: the change is not stamped as verified.
    seen = stamps.database_seen()
    (tmp_path / "index.db").write_bytes(b"db, changed")
    stamps.record_database(seen)
    assert not stamps.database_verified()
    stamps.forget_database()
    assert not stamps.database_verified()


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"vectors-1.faiss": {"files": [[1, 2]]}}',
        '{"vectors-1.faiss": {"files": [[1, 2, 3, 4, 5]], "sha256": "d", "taken_ns": Infinity}}',
        '{"vectors-1.faiss": {"files": [[1, 2, 3, 4, 5]], "sha256": "d", "taken_ns": 1e400}}',
        "[" * 100_000,
        "[]",
        '"text"',
    ],
)
def test_damaged_stamps_only_cost_time(vectors: Path, content: str) -> None:
    (vectors.parent / STAMPS).write_text(content, encoding="utf-8")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], "d")


def test_a_fifo_or_a_huge_file_for_stamps_is_not_read(vectors: Path) -> None:
    os.mkfifo(vectors.parent / STAMPS)
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], "d")
    (vectors.parent / STAMPS).unlink()
    (vectors.parent / STAMPS).write_text("{" + " " * (integrity.MAX_STAMPS_BYTES + 10) + "}", encoding="utf-8")
    assert not Stamps(vectors.parent).trusted(vectors.name, [vectors], "d")


def test_an_unwritable_place_keeps_no_stamps_without_an_error(tmp_path: Path, vectors: Path) -> None:
    missing = Stamps(tmp_path / "no-such-folder")
    missing.record(vectors.name, Seen.now([vectors]), [vectors], "d")
    missing.save({vectors.name})
    assert not (tmp_path / "no-such-folder").exists()
