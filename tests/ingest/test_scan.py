"""Hostile and odd files in a corpus folder: links, FIFOs, huge files, old Mac line endings, odd names."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import qa
from qa.errors import CorpusError
from qa.ingest.corpus import read_corpus
from qa.ingest.scan import (
    BAD_NAME,
    BROKEN_LINK,
    FOLDER_LINK_INSIDE,
    FOLDER_LINK_LOOP,
    FOLDER_LINK_OUTSIDE,
    LINK_LOOP,
    LINK_OUTSIDE,
    CorpusEntry,
    read_entry,
    scan_corpus,
)
from qa.ingest.sources import FolderSource
from qa.text.passages import make_document, split_passages

pytestmark = pytest.mark.skipif(os.name != "posix", reason="links, FIFOs and byte file names as on POSIX")

SECRET = "SECRET-7f3a launch codes"

#: What a size-limit skip tells people to do.
RAISE = "raise QA_MAX_FILE_MB (Settings.max_file_mb) to index it"


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail, rather than hang, if anything blocks (a FIFO opened for reading waits for a writer)."""

    def fail(_signal: int, _frame: object) -> None:
        raise TimeoutError("blocked: a FIFO or device was opened for reading")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the corpus holding a file that must never be indexed."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"{SECRET}.\n", encoding="utf-8")
    return folder


def build(corpus: Path, tmp_path: Path, settings: qa.Settings | None = None) -> qa.Index:
    return qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), settings=settings)


def skipped(index: qa.Index) -> dict[str, str]:
    assert index.report is not None
    return dict(index.report.skipped)


def assert_good_files_work(index: qa.Index) -> None:
    """The ordinary articles are indexed and found, whatever else is in the folder."""
    assert {"volcano.txt", "bakery.md", "nested/rivers.txt"} <= set(index.manifest.files)
    hits = index.search("Who trains apprentices in slow fermentation?", k=3)
    assert hits and hits[0].passage.source == "bakery.md"
    assert all(SECRET not in passage.text for passage in index.passages)


def assert_stays_current(index: qa.Index) -> None:
    """Skipped entries do not make the index look stale on every look."""
    assert not index.changes()
    assert not qa.LiveIndex(index.folder, index=index).pending()


# -- links -------------------------------------------------------------------------------------


def test_link_to_outside_file_is_not_read_and_is_reported(corpus: Path, outside: Path, tmp_path: Path) -> None:
    (corpus / "leak.txt").symlink_to(outside / "secret.txt")
    index = build(corpus, tmp_path)
    assert skipped(index) == {"leak.txt": LINK_OUTSIDE}
    assert_good_files_work(index)
    assert_stays_current(index)
    # The other way in reads the same rules.
    assert {s.source: s.reason for s in read_corpus(corpus).skipped} == {"leak.txt": LINK_OUTSIDE}


def test_link_to_outside_folder_is_not_followed_and_is_reported(corpus: Path, outside: Path, tmp_path: Path) -> None:
    (corpus / "elsewhere").symlink_to(outside, target_is_directory=True)
    index = build(corpus, tmp_path)
    assert skipped(index) == {"elsewhere": FOLDER_LINK_OUTSIDE}
    assert_good_files_work(index)
    assert_stays_current(index)


def test_link_to_inside_file_is_read_under_its_own_name(corpus: Path, tmp_path: Path) -> None:
    (corpus / "alias.txt").symlink_to(corpus / "volcano.txt")
    index = build(corpus, tmp_path)
    assert skipped(index) == {}
    assert {"alias.txt", "volcano.txt"} <= set(index.manifest.files)
    assert_good_files_work(index)
    assert_stays_current(index)


def test_folder_links_inside_and_loops_are_reported_and_the_scan_ends(corpus: Path, tmp_path: Path) -> None:
    (corpus / "nested" / "up").symlink_to(corpus, target_is_directory=True)
    (corpus / "nested" / "self").symlink_to(corpus / "nested", target_is_directory=True)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "rivers").symlink_to(corpus / "nested", target_is_directory=True)
    index = build(corpus, tmp_path)
    assert skipped(index) == {
        "nested/up": FOLDER_LINK_LOOP,
        "nested/self": FOLDER_LINK_LOOP,
        "sub/rivers": FOLDER_LINK_INSIDE,
    }
    assert_good_files_work(index)
    assert_stays_current(index)


def test_broken_link_and_file_link_loop_are_reported(corpus: Path, tmp_path: Path) -> None:
    (corpus / "gone.txt").symlink_to(corpus / "never-written.txt")
    (corpus / "ping.txt").symlink_to(corpus / "pong.txt")
    (corpus / "pong.txt").symlink_to(corpus / "ping.txt")
    index = build(corpus, tmp_path)
    assert skipped(index) == {"gone.txt": BROKEN_LINK, "ping.txt": LINK_LOOP, "pong.txt": LINK_LOOP}
    assert_good_files_work(index)
    assert_stays_current(index)


def test_file_replaced_by_outside_link_loses_its_paragraphs(corpus: Path, outside: Path, tmp_path: Path) -> None:
    index = build(corpus, tmp_path)
    assert any(p.source == "volcano.txt" for p in index.passages)
    (corpus / "volcano.txt").unlink()
    (corpus / "volcano.txt").symlink_to(outside / "secret.txt")
    updated = build(corpus, tmp_path)
    assert skipped(updated) == {"volcano.txt": LINK_OUTSIDE}
    assert not any(p.source == "volcano.txt" for p in updated.passages)
    assert all(SECRET not in p.text for p in updated.passages)


def test_link_repointed_outside_after_the_scan_is_not_read(corpus: Path, outside: Path) -> None:
    (corpus / "alias.txt").symlink_to(corpus / "volcano.txt")
    source = FolderSource(corpus)
    assert source.scan()["alias.txt"].size > 0
    (corpus / "alias.txt").unlink()
    (corpus / "alias.txt").symlink_to(outside / "secret.txt")
    loaded = source.load("alias.txt")
    assert loaded.document is None and loaded.skipped == LINK_OUTSIDE


# -- FIFOs, sockets, devices -------------------------------------------------------------------


def test_fifo_is_skipped_without_being_opened(corpus: Path, tmp_path: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")
    index = build(corpus, tmp_path)
    assert skipped(index) == {"pipe.txt": "not a regular file: a FIFO (named pipe)"}
    assert_good_files_work(index)
    assert_stays_current(index)
    assert "pipe.txt" in {s.source for s in read_corpus(corpus).skipped}


def test_socket_is_skipped(tmp_path: Path) -> None:
    # A short folder name: socket paths are limited to about 100 bytes.
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"qa-sock-{os.getpid()}"
    write_corpus(folder)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "chat.md"))
        reasons = {entry.source: entry.skipped for entry in scan_corpus(folder)}
        assert reasons["chat.md"] == "not a regular file: a socket"
        assert reasons["volcano.txt"] is None
    finally:
        server.close()
        shutil.rmtree(folder)


def test_fifo_or_device_swapped_in_after_the_scan_is_not_read(corpus: Path) -> None:
    [entry] = [e for e in scan_corpus(corpus) if e.source == "volcano.txt"]
    (corpus / "volcano.txt").unlink()
    os.mkfifo(corpus / "volcano.txt")
    with pytest.raises(CorpusError, match="FIFO"):
        read_entry(corpus, entry)
    # A device under the folder read is refused on the open file, before any byte is read.
    with pytest.raises(CorpusError, match="character device"):
        read_entry(Path("/dev"), CorpusEntry("zero", Path("/dev/zero")))


# -- size limit --------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_skipped_then_indexed_when_the_limit_is_raised(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (corpus / "huge.txt").write_text("Enormous ledger of grain shipments.\n" * 150, encoding="utf-8")
    # The environment is read by the CLI only: a program says so in its settings.
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.001")
    assert skipped(build(corpus, tmp_path)) == {}
    index = build(corpus, tmp_path, qa.Settings(max_file_mb=0.001))
    assert skipped(index) == {"huge.txt": "5.3 KB is over the 0.001 MB limit; " + RAISE}
    assert all(p.source != "huge.txt" for p in index.passages)
    assert_stays_current(index)
    raised = build(corpus, tmp_path, qa.Settings(max_file_mb=1))
    assert skipped(raised) == {}
    assert any(p.source == "huge.txt" for p in raised.passages)


def test_qa_index_reads_the_size_limit_from_the_environment(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import qa.update
    from qa.cli import main

    monkeypatch.setattr(qa.update, "load_embedder", lambda model: FakeEmbedder(name=model))
    (corpus / "huge.txt").write_text("Enormous ledger of grain shipments.\n" * 150, encoding="utf-8")
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.001")
    assert main(["index", str(corpus), "--out", str(tmp_path / "index"), "--quiet"]) == 0
    assert "skipped huge.txt: 5.3 KB is over the 0.001 MB limit; " + RAISE in (capsys.readouterr().err)


def test_default_limit_message_in_megabytes(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_MAX_FILE_MB", raising=False)
    with (corpus / "big.txt").open("wb") as file:
        file.truncate(int(12.3 * 1024 * 1024))
    reasons = {entry.source: entry.skipped for entry in scan_corpus(corpus)}
    assert reasons["big.txt"] == "12.3 MB is over the 10 MB limit; " + RAISE


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf"])
def test_bad_size_limit_is_a_clear_error(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    from qa.cli import main
    from qa.config import read_environment

    with pytest.raises(qa.SettingsError, match="QA_MAX_FILE_MB must be a positive number"):
        _ = read_environment({"QA_MAX_FILE_MB": value}).max_file_mb
    monkeypatch.setenv("QA_MAX_FILE_MB", value)
    assert main(["index", str(corpus)]) == 1
    assert capsys.readouterr().err.startswith("qa: error: QA_MAX_FILE_MB must be a positive number of megabytes")


# -- line endings ------------------------------------------------------------------------------


def test_bare_cr_file_is_split_and_cited_at_the_right_lines(corpus: Path, tmp_path: Path) -> None:
    text = (
        "Lighthouse keepers logged every passing ship.\r"
        "They trimmed the lamp wicks at dusk.\r"
        "\r"
        "The fog signal sounded twice a minute in winter storms.\r"
        "\r"
        "\r"
        "Keepers' children rowed to school across the harbour.\r"
    )
    (corpus / "lighthouse.txt").write_bytes(text.encode("utf-8"))
    passages = split_passages(make_document("lighthouse.txt", text))
    assert [(p.start_line, p.end_line) for p in passages] == [(1, 2), (4, 4), (7, 7)]
    assert all(text[p.start_char : p.end_char] == p.text for p in passages)
    index = build(corpus, tmp_path)
    hit = index.search("How often did the fog signal sound in winter storms?", k=1)[0]
    assert hit.passage.source == "lighthouse.txt" and hit.citation.endswith("¶2 (line 4)")


def test_mixed_line_endings_count_every_break_once() -> None:
    text = "One.\r\nTwo.\rThree.\n\r\n\rFour\r\nstill four.\n\n\r\rFive."
    passages = split_passages(make_document("mixed.txt", text))
    assert [p.text for p in passages] == ["One.\r\nTwo.\rThree.", "Four\r\nstill four.", "Five."]
    assert [(p.start_line, p.end_line) for p in passages] == [(1, 3), (6, 7), (11, 11)]
    assert all(text[p.start_char : p.end_char] == p.text for p in passages)


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_heading_title_is_the_same_whatever_the_line_ending(end: str) -> None:
    assert make_document("x.md", f"# Harbour Notes{end}{end}The tide came in.{end}").title == "Harbour Notes"
    # A heading glued to its paragraph is no title, with CR as with LF (and never a title holding a CR).
    assert make_document("x.md", f"# Harbour Notes{end}The tide came in.{end}").title == ""


_PIECES = ["\n", "\r", "\r\n", "\n\n", "\r\r", "\r\n\r\n", " ", "\t", "  \n", "word", "Ünïcödé", "日本語", "x.", "🙂"]


# Any text a file can decode to: every character but lone surrogates (no bytes decode to those).
@given(st.lists(st.sampled_from(_PIECES) | st.characters(exclude_categories=["Cs"]), max_size=80).map("".join))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_text_splits_into_offsets_that_cover_it_and_lines_that_match_its_breaks(text: str) -> None:
    passages = split_passages(make_document("r.txt", text))
    covered = [False] * len(text)
    for passage in passages:
        assert text[passage.start_char : passage.end_char] == passage.text
        assert passage.text.strip() == passage.text != ""
        before = len(re.findall(r"\r\n|\r|\n", text[: passage.start_char]))
        inside = len(re.findall(r"\r\n|\r|\n", passage.text))
        assert (passage.start_line, passage.end_line) == (before + 1, before + 1 + inside)
        covered[passage.start_char : passage.end_char] = [True] * len(passage.text)
    # Every non-blank character belongs to some paragraph.
    assert all(covered[i] for i, char in enumerate(text) if not char.isspace())


# -- file names --------------------------------------------------------------------------------


def test_file_name_not_utf8_is_skipped_and_reported(corpus: Path, tmp_path: Path) -> None:
    bad = os.path.join(os.fsencode(corpus), b"caf\xe9 menu.txt")
    try:
        with open(bad, "wb") as file:
            file.write(b"The cafe menu lists espresso.\n")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    index = build(corpus, tmp_path)
    assert skipped(index) == {"caf\\xe9 menu.txt": BAD_NAME}
    assert_good_files_work(index)
    assert_stays_current(index)
    assert {s.source: s.reason for s in read_corpus(corpus).skipped} == {"caf\\xe9 menu.txt": BAD_NAME}


def test_control_characters_in_file_names_are_indexed(corpus: Path, tmp_path: Path) -> None:
    names = ["tab\there.txt", "new\nline.txt", "esc\x1b[31m.txt"]
    for name in names:
        (corpus / name).write_text(f"Ferries cross the strait daily ({name!r}).\n", encoding="utf-8")
    index = build(corpus, tmp_path)
    assert skipped(index) == {}
    assert set(names) <= set(index.manifest.files)
    assert_good_files_work(index)
    assert_stays_current(index)


def test_a_link_or_folder_swapped_in_while_opening_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.ingest import scan as documents

    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("harmless inside\n", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("inside b\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("SECRET outside corpus\n", encoding="utf-8")
    entries = documents.scan_corpus(root)
    real_open = os.open

    def swapping_open(path: str, flags: int, *args: object) -> int:
        # The worst moment: after every check of the path, just as the file is opened.
        name = Path(path).name
        if name == "a.txt":
            Path(path).unlink()
            os.symlink(tmp_path / "secret.txt", path)
        if name == "b.txt":
            os.rename(root / "sub", tmp_path / "moved")
            (tmp_path / "moved" / "b.txt").write_text("SECRET via parent\n", encoding="utf-8")
            os.symlink(tmp_path / "moved", root / "sub")
        return real_open(path, flags, *args)

    monkeypatch.setattr(documents.os, "open", swapping_open)
    for entry in entries:
        if entry.skipped is None:
            with pytest.raises(qa.CorpusError):
                documents.read_entry(root, entry)


def test_answers_never_read_what_was_swapped_in_after_indexing(tmp_path: Path) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "light.md": "# Lighthouse\n\nThe lighthouse keeper lights the lamp at dusk.\n",
            "pipe.md": "Pipes carry water.\n",
        },
    )
    (tmp_path / "secret.md").write_text(
        "# TOP SECRET PAYROLL\n\nThe lighthouse keeper lights the lamp at dusk.\n", encoding="utf-8"
    )
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), settings=qa.Settings(threshold=-1))
    (corpus / "light.md").unlink()
    (corpus / "light.md").symlink_to(tmp_path / "secret.md")
    (corpus / "pipe.md").unlink()
    os.mkfifo(corpus / "pipe.md")
    # Neither the outside file's title nor its text is shown, and the FIFO is not waited on.
    answer = index.answer("lighthouse keeper lamp")
    shown = json.dumps(answer.to_dict())
    assert "SECRET" not in shown and "PAYROLL" not in shown
    assert not any(q.source in ("light.md", "pipe.md") for q in (*answer.quotes, *answer.more))
    assert index.answer("pipes water").warnings


def test_a_huge_size_limit_means_no_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Ferries leave the harbour hourly.\n"})
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), settings=qa.Settings(max_file_mb=1e308))
    assert len(index) == 1
