"""Readers in a sandbox: a hostile file costs one worker process, never the indexing or serving one."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from support.samples import make_samples

import qa
import qa.update as update
from qa.errors import SettingsError
from qa.ingest.readers import POOL, ReaderPool, SandboxLimits, UnreadableError, extract, limits_from_environment

BOMB = make_samples.form_bomb_pdf()


def bomb_beside_a_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good: str) -> Path:
    """A corpus of the bomb and ``good.txt``, read under a 2 s limit with memory enough for the bomb."""
    monkeypatch.setenv("QA_READ_SECONDS", "2")
    monkeypatch.setenv("QA_READ_MEMORY_MB", "4096")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bomb.pdf").write_bytes(BOMB)
    (corpus / "good.txt").write_text(good, encoding="utf-8")
    return corpus


def test_the_form_object_bomb_is_a_small_pdf() -> None:
    # 10⁶ text draws in about 1.4 KB, as the file of the report (1.3 KB).
    assert len(BOMB) < 1500
    import pypdfium2

    assert len(pypdfium2.PdfDocument(BOMB)) == 1


def test_a_file_that_takes_too_long_to_read_is_skipped_and_the_rest_is_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = bomb_beside_a_good_file(tmp_path, monkeypatch, "Grain ships sailed from Basra.\n\nThe harbour was busy.")
    (corpus / "also.pdf").write_bytes(make_samples.pdf_bytes())
    report = update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    skipped = dict(report.skipped)
    assert list(skipped) == ["bomb.pdf"]
    assert skipped["bomb.pdf"] == "took longer than 2 s to read; raise QA_READ_SECONDS to index it"
    assert report.files == 2 and report.passages > 2
    # Unchanged, it is not read again: the next update reads nothing and keeps the reason.
    started = POOL.started
    again = update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert again.updated_files == 0 and dict(again.skipped) == skipped
    assert POOL.started == started
    # Changed, it is read again (and this time it is a good PDF).
    (corpus / "bomb.pdf").write_bytes(make_samples.pdf_bytes())
    fixed = update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert fixed.skipped == () and fixed.files == 3


def test_a_reader_that_crashes_kills_only_its_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_READ_SECONDS", "60")
    monkeypatch.setenv("QA_READ_MEMORY_MB", "4096")
    pool = ReaderPool()
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            pool.read("bomb.pdf", BOMB, 10.0)
        except UnreadableError as exc:
            outcome.append(exc)

    reading = threading.Thread(target=read)
    reading.start()
    # The worker reading the bomb is the one the pool started; it crashes as PDFium can.
    deadline = time.monotonic() + 30
    while pool.started == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    busy = _children_running_reader()
    assert busy, "no reader worker found"
    for pid in busy:
        os.kill(pid, signal.SIGSEGV)
    reading.join(30)
    assert [str(exc) for exc in outcome] == ["the reader crashed (SIGSEGV) on this file"]
    # This process goes on, and the next file is read by a fresh worker.
    extracted = pool.read("after.txt", b"Still reading files.\n\nAnother paragraph.", 10.0)
    assert len(extracted.blocks) == 2
    pool.close()


def _children_running_reader() -> list[int]:
    """Process ids of this process's children that run a reader worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        if parent == str(os.getpid()) and any(b"qa.ingest.readers.worker" in part for part in command):
            found.append(int(entry.name))
    return found


def test_a_file_that_needs_too_much_memory_is_refused_with_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_READ_MEMORY_MB", "4")
    text = ("A sentence of an enormous article about shipping. " * 20 + "\n\n") * 8000
    with pytest.raises(UnreadableError) as caught:
        extract("huge.txt", text.encode())
    assert str(caught.value) == "needed more than 4 MB of memory to read; raise QA_READ_MEMORY_MB to index it"
    # Within the limit again, the same process reads it.
    monkeypatch.setenv("QA_READ_MEMORY_MB", "1024")
    assert len(extract("huge.txt", text.encode()).blocks) == 8000


def test_other_files_are_read_while_a_bomb_is_being_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_READ_SECONDS", "4")
    monkeypatch.setenv("QA_READ_MEMORY_MB", "4096")
    pool = ReaderPool(most=3)
    done: dict[str, float] = {}
    errors: dict[str, str] = {}
    start = time.monotonic()

    def read(name: str, raw: bytes) -> None:
        try:
            pool.read(name, raw, 10.0)
        except UnreadableError as exc:
            errors[name] = str(exc)
        done[name] = time.monotonic() - start

    threads = [threading.Thread(target=read, args=("bomb.pdf", BOMB))]
    threads += [
        threading.Thread(target=read, args=(f"file{n}.txt", f"Paragraph {n} of a good file.".encode()))
        for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(errors) == {"bomb.pdf"} and "took longer than 4 s" in errors["bomb.pdf"]
    # Every good file was read before the bomb's time ran out.
    assert max(done[f"file{n}.txt"] for n in range(6)) < done["bomb.pdf"]
    pool.close()


def test_page_drawing_runs_in_the_sandbox_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_READ_SECONDS", "2")
    monkeypatch.setenv("QA_READ_MEMORY_MB", "4096")
    with pytest.raises(ValueError, match="took longer than 2 s to draw"):
        POOL.page_view(BOMB, (), [], 1)
    # A page past the end is the last one; the count comes with it.
    count, pages = POOL.page_view(make_samples.pdf_bytes(), (), [], 99)
    assert count >= 1 and [image.page for image in pages] == [count]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, SandboxLimits(30.0, 1024.0)),
        ({"QA_READ_SECONDS": "5", "QA_READ_MEMORY_MB": " 256 "}, SandboxLimits(5.0, 256.0)),
    ],
)
def test_the_limits_come_from_the_environment(environment: dict[str, str], expected: SandboxLimits) -> None:
    assert limits_from_environment(environment) == expected


@pytest.mark.parametrize("value", ["abc", "0", "-3", "inf", "nan"])
def test_a_limit_that_is_not_a_positive_number_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="QA_READ_SECONDS must be a positive number"):
        limits_from_environment({"QA_READ_SECONDS": value})


def test_where_no_worker_can_start_files_are_read_here_and_no_descriptor_leaks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sys

    pool = ReaderPool()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    before = len(os.listdir("/proc/self/fd"))
    for number in range(20):
        assert len(pool.read(f"f{number}.txt", b"One.\n\nTwo.", 10.0).blocks) == 2
    # Tried once, said once, and every pipe made for it closed again.
    assert pool.started == 1 and len(os.listdir("/proc/self/fd")) == before
    assert sum("no reader worker can be started" in r.getMessage() for r in caplog.records) == 1


def test_a_qa_package_in_the_working_folder_is_not_what_the_workers_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    pool = ReaderPool()
    assert len(pool.read("a.txt", b"Read by the real reader.", 10.0).blocks) == 1
    assert not marker.exists()
    pool.close()


def test_limits_larger_than_mean_anything_are_read_as_the_largest() -> None:
    limits = limits_from_environment({"QA_READ_SECONDS": "1e12", "QA_READ_MEMORY_MB": "1e13"})
    assert limits == SandboxLimits(7 * 24 * 3600.0, 2.0**30)
    pool = ReaderPool(limits)
    assert len(pool.read("a.txt", b"Still read.", 10.0).blocks) == 1
    pool.close()


def test_a_file_skipped_for_a_limit_is_read_again_once_the_limit_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: raising QA_READ_MEMORY_MB, as the reason says, changed nothing until the file itself changed."""
    from qa.ingest.readers import over_a_raised_limit

    corpus = bomb_beside_a_good_file(tmp_path, monkeypatch, "Grain ships sailed from Basra.")
    first = update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert "took longer than 2 s" in dict(first.skipped)["bomb.pdf"]
    # The same limit: not read again.
    assert update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder()).updated_files == 0
    index = qa.load_index(tmp_path / "index", embedder=FakeEmbedder())
    assert not index.changes()
    # Raised: a change for `qa ask` and a server too, and read again at the next update.
    monkeypatch.setenv("QA_READ_SECONDS", "120")
    assert index.changes().changed == ("bomb.pdf",)
    again = update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert again.updated_files == 1 and "bomb.pdf" not in dict(again.skipped)
    limits = SandboxLimits(30.0, 1024.0)
    assert over_a_raised_limit("took longer than 2 s to read; raise QA_READ_SECONDS to index it", limits)
    assert not over_a_raised_limit("took longer than 30 s to read; raise QA_READ_SECONDS to index it", limits)
    stopped = "the reader stopped (SIGABRT) on this file, most likely out of the 512 MB of memory allowed;"
    assert over_a_raised_limit(stopped + " raise QA_READ_MEMORY_MB to index it", limits)
    assert not over_a_raised_limit("12.3 MB is over the 10 MB limit; raise QA_MAX_FILE_MB to index it", limits)


@pytest.mark.parametrize(
    "limits", [SandboxLimits(30.0, 1e6), SandboxLimits(100.0001, 2.0**30), SandboxLimits(1e-7, 5.0)]
)
def test_a_reason_given_under_a_limit_never_reads_as_a_lower_limit(limits: SandboxLimits) -> None:
    """Before: "1e+06 MB" read back as 6, "100 s" for 100.0001: the file was read again every round."""
    from qa.ingest.readers import over_a_raised_limit

    pool = ReaderPool(limits)
    for answer in (("error", "memory", ""), ("error", "time", None), ("error", "signal", signal.SIGXCPU)):
        reason = pool._reason(answer, limits, "read")
        assert "e+" not in reason and not over_a_raised_limit(reason, limits)


def test_a_malformed_limit_raises_nothing_where_changes_are_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.ingest.sources import IndexedFile, Signature
    from qa.store.changes import CorpusChanges, retry_raised_limits

    monkeypatch.setenv("QA_READ_SECONDS", "abc")
    skipped = IndexedFile(10, 1, "x", "took longer than 2 s to read; raise QA_READ_SECONDS to index it")
    unchanged = CorpusChanges()
    assert retry_raised_limits(unchanged, {"a.pdf": skipped}, {"a.pdf": Signature(10, 1)}) is unchanged
