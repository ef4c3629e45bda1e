"""A writer keeps the base files a reader is opening: removed at a later clean, never under the reader."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from workers import article

import qa
from qa.store import database as db
from qa.store import freeze, holds, snapshot
from qa.store.snapshot import Snapshot

FILES = 4


def write(corpus: Path, version: int) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for number in range(FILES):
        (corpus / f"article_{number}.txt").write_text(article(number, version), encoding="utf-8")


def base_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith(("vectors-", "lexical-"))}


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, FakeEmbedder]:
    """An index whose every update writes a new base (and so removes the old one)."""
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write(corpus, 0)
    fake = FakeEmbedder()
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    qa.build_index(corpus, folder, embedder=fake)
    return corpus, folder, fake


def test_a_reader_opens_its_state_although_a_writer_freezes_between_its_read_and_its_open(
    built: tuple[Path, Path, FakeEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, folder, fake = built
    first = db.state_of(folder)[2]
    monkeypatch.setattr(holds, "WAIT_SECONDS", 0.05)
    opened = snapshot.open_vectors
    versions: list[int] = []

    def racing(at: Path, meta: db.Meta) -> object:
        # Each time the reader has read its state, a writer commits a new base before the files are read.
        if len(versions) < 2 * snapshot._OPEN_ATTEMPTS and meta.base_file not in {None, ""}:
            versions.append(len(versions) + 1)
            write(corpus, versions[-1])
            monkeypatch.setattr(snapshot, "open_vectors", opened)
            qa.build_index(corpus, folder, embedder=fake)
            monkeypatch.setattr(snapshot, "open_vectors", racing)
        return opened(at, meta)

    monkeypatch.setattr(snapshot, "open_vectors", racing)
    state = Snapshot.open(folder)
    monkeypatch.setattr(snapshot, "open_vectors", opened)
    # The first read's state, whole: its files were kept for it although a newer base was committed.
    assert versions == [1]
    assert state.base is not None and state.base.path.name == first and state.generation == 1
    assert db.state_of(folder)[2] != first and first in base_files(folder)
    state.close()
    # Once no reader is opening, the next clean removes them.
    write(corpus, 9)
    qa.build_index(corpus, folder, embedder=fake)
    assert first not in base_files(folder)
    assert len(base_files(folder)) == 2


def test_a_reader_in_another_process_holds_the_files_and_its_death_lets_them_go(
    built: tuple[Path, Path, FakeEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, folder, fake = built
    monkeypatch.setattr(holds, "WAIT_SECONDS", 0.05)
    first = db.state_of(folder)[2]
    hold = (
        "import fcntl, os, sys, time; d = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT);"
        " fcntl.flock(d, fcntl.LOCK_SH); print('held', flush=True); time.sleep(60)"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", hold, str(folder / holds.LOCK_FILE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "held"
        write(corpus, 1)
        qa.build_index(corpus, folder, embedder=fake)
        assert db.state_of(folder)[2] != first and first in base_files(folder)
    finally:
        # A reader killed mid-open: the kernel lets its lock go.
        reader.kill()
        reader.wait(timeout=10)
    # The next update removes them, an idle one too (as a server's watcher runs every few seconds).
    idle = qa.build_index(corpus, folder, embedder=fake)
    assert idle.report is not None and idle.report.updated_files == 0
    assert first not in base_files(folder) and len(base_files(folder)) == 2


def test_a_folder_without_a_lock_file_it_may_make_is_read_as_before(tmp_path: Path) -> None:
    # Neither step may make the file: the reader opens without a hold, the writer removes as before.
    missing = tmp_path / "nowhere"
    with holds.opening(missing), holds.removing(missing, wait=0.05) as alone:
        # ... except while a reader of this process is opening a state of the folder.
        assert not alone
    with holds.removing(missing) as alone:
        assert alone


def test_readers_of_one_process_are_seen_where_the_file_system_has_no_locks(
    built: tuple[Path, Path, FakeEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, folder, fake = built
    first = db.state_of(folder)[2]

    # As on a file system that locks per process (NFS): the file lock never excludes a thread of ours.
    flock = fcntl.flock

    def no_locks(descriptor: int, how: int) -> None:
        if os.readlink(f"/proc/self/fd/{descriptor}").endswith(holds.LOCK_FILE):
            raise OSError(errno.ENOLCK, "no locks available")
        flock(descriptor, how)

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(holds, "WAIT_SECONDS", 0.05)
    reading, done = threading.Event(), threading.Event()

    def reader() -> None:
        with holds.opening(folder):
            reading.set()
            done.wait(30)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert reading.wait(30)
        write(corpus, 1)
        qa.build_index(corpus, folder, embedder=fake)
        assert first in base_files(folder)
    finally:
        done.set()
        thread.join(30)
    write(corpus, 2)
    qa.build_index(corpus, folder, embedder=fake)
    assert first not in base_files(folder)


def test_a_fifo_at_the_lock_path_neither_hangs_a_reader_nor_loses_files(
    built: tuple[Path, Path, FakeEmbedder],
) -> None:
    corpus, folder, fake = built
    lock = folder / holds.LOCK_FILE
    lock.unlink()
    os.mkfifo(lock)
    # Opened without a hold (a FIFO opened for reading would wait for a writer forever).
    opened: list[Snapshot] = []
    thread = threading.Thread(target=lambda: opened.append(Snapshot.open(folder)), daemon=True)
    thread.start()
    thread.join(30)
    assert opened and len(opened[0]) > 0
    opened[0].close()
    with holds.removing(folder, wait=0.05) as alone:
        assert not alone
    # The next update moves it aside, says so, and removes what it must with a fresh lock.
    first = db.state_of(folder)[2]
    write(corpus, 1)
    index = qa.build_index(corpus, folder, embedder=fake)
    assert index.report is not None
    assert any("readers' lock readers.lock was not a file; moved aside" in r for r in index.report.repaired)
    assert lock.is_file() and first not in base_files(folder)


def test_a_reader_waits_a_bounded_time_behind_a_writer_stopped_while_it_removes(
    built: tuple[Path, Path, FakeEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    _corpus, folder, _fake = built
    monkeypatch.setattr(holds, "READ_WAIT_SECONDS", 0.3)
    descriptor = os.open(folder / holds.LOCK_FILE, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        started = time.monotonic()
        state = Snapshot.open(folder)
        assert time.monotonic() - started >= 0.3
        assert len(state) > 0
        state.close()
    finally:
        os.close(descriptor)
