"""Uploads from the chat page: safe names, the checks before writing, atomic writes, removal into the trash."""

from __future__ import annotations

import hashlib
import os
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from support.samples import MIXED, encrypted_pdf, make_samples, zip_bomb

import qa
from qa.errors import CorpusError, QueryError
from qa.ingest.scan import scan_corpus
from qa.ingest.sources import FolderSource
from qa.update import update_index
from qa.web import uploads
from qa.web.uploads import TRASH, Added, UploadLimits, add_files, check_upload, remove_file, safe_name

TEXT = b"The tide mill at Carew ground corn for three hundred years.\n"
RESERVED = '<>:"|?*/\\'


def listing(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden ones too, relative and sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def text(n: int) -> bytes:
    return f"Article {n}: the harbour wall was rebuilt in {1900 + n} by the town's masons.\n".encode()


def assert_safe(result: str) -> None:
    """The properties every safe name has, whatever it came from."""
    encoded = result.encode("utf-8")  # valid UTF-8: no lone surrogates
    assert 0 < len(encoded) <= 255
    assert result not in ("", ".", "..")
    assert not result.startswith((".", " ")) and not result.endswith((".", " "))
    assert not any(c in RESERVED for c in result)
    assert not any(unicodedata.category(c) == "Cc" for c in result)
    assert unicodedata.is_normalized("NFC", result)


# -- safe_name ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("a/b\\c.txt", "c.txt"),
        ("C:\\Users\\me\\notes.md", "notes.md"),
        ("evil\0.txt", "evil.txt"),
        ("two\nlines.txt", "twolines.txt"),
        ("carriage\rreturn.txt", "carriagereturn.txt"),
        ("del\x7f.txt", "del.txt"),
        ("c1\x85\x9b.txt", "c1.txt"),
        ("report\u202efdp.txt", "reportfdp.txt"),
        (".hidden.txt", "hidden.txt"),
        ("...notes.md", "notes.md"),
        (".txt", "upload.txt"),
        ("..", "upload"),
        (".", "upload"),
        ("", "upload"),
        ("   ", "upload"),
        ("  report.pdf  ", "report.pdf"),
        ("report.pdf. . ", "report.pdf"),
        ('a<b>c:d"e|f?g*.txt', "a_b_c_d_e_f_g_.txt"),
        ("Report.PDF", "Report.PDF"),
        ("re\u0301sume\u0301.txt", "résumé.txt"),
    ],
)
def test_safe_name_of_hostile_names(given: str, expected: str) -> None:
    result = safe_name(given)
    assert result == expected
    assert_safe(result)


def test_names_differing_only_in_case_stay_different() -> None:
    assert safe_name("Notes.TXT") == "Notes.TXT"
    assert safe_name("notes.txt") == "notes.txt"
    assert safe_name("Notes.TXT") != safe_name("notes.txt")


@pytest.mark.parametrize("char", ["é", "日", "😀", "a"])
def test_a_long_name_is_cut_on_a_character_boundary_keeping_its_ending(char: str) -> None:
    given = char * 300 + ".docx"
    assert len(given.encode("utf-8")) > 255
    result = safe_name(given)
    assert_safe(result)
    assert result.endswith(".docx")
    stem = result.removesuffix(".docx")
    assert stem and set(stem) == {char}
    # As long as it can be: one more character would not fit.
    assert len((stem + char + ".docx").encode("utf-8")) > 255


def test_a_lone_surrogate_from_an_undecodable_name_is_dropped() -> None:
    result = safe_name("caf\udce9.txt")
    assert result == "caf.txt"
    assert_safe(result)


# -- check_upload ------------------------------------------------------------------------------------------------


VALID = {
    "notes.txt": TEXT,
    "notes.md": b"# The mill\n\nThe wheel turned twice a day with the tide.\n",
    "page.html": (MIXED / "seed-library.html").read_bytes(),
    "report.pdf": make_samples.pdf_bytes(),
    "guide.docx": make_samples.docx_bytes(),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_readable_file_of_each_kind_is_accepted(name: str) -> None:
    assert check_upload(name, VALID[name], UploadLimits()) == ""


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("tool.exe", b"MZ\x90\0", "unsupported type: .exe is not read; the corpus reads .txt, .md, .html, .htm, .pdf"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "unsupported type: Word 97-2003 documents (.doc) are not read"),
        ("README", TEXT, "unsupported type: a name without an ending is not read"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF: the file does not start with %PDF-"),
        ("fake.docx", TEXT, "not a Word document: a .docx file is a zip archive"),
        ("nul.txt", TEXT * 300 + b"\0" + TEXT, "not a text file: it contains NUL bytes"),
        ("nul.html", b"<p>a\0b</p>", "not a text file: it contains NUL bytes"),
        ("latin.md", "Café au lait".encode("latin-1"), "not UTF-8 text"),
        ("empty.txt", b"", "no text to index"),
        ("blank.md", b"  \n\n\t\n", "no text to index"),
        ("scan.pdf", make_samples.pdf_bytes(text=False), "no text layer (OCR not supported)"),
        ("locked.pdf", encrypted_pdf(), "encrypted PDF: it needs a password"),
        ("bomb.docx", zip_bomb(), "not a readable Word document (it unpacks to"),
    ],
)
def test_a_file_that_cannot_be_indexed_is_refused_with_the_reason(name: str, raw: bytes, reason: str) -> None:
    assert check_upload(name, raw, UploadLimits()).startswith(reason)


def test_a_file_over_the_limit_is_refused_with_its_size_and_the_servers_limit() -> None:
    raw = TEXT * 40_000  # about 2.3 MB
    # The person on the page cannot change the server's settings: no advice to raise them.
    assert check_upload("big.txt", raw, UploadLimits(max_file_mb=1)) == (
        "too large: 2.3 MB is over the 1 MB limit per file of this server"
    )
    assert check_upload("big.txt", raw, UploadLimits(max_file_mb=3)) == ""


# -- add_files ---------------------------------------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "volcano.txt").write_bytes(TEXT)
    return root


def test_files_are_written_under_uploads_with_their_bytes(corpus: Path) -> None:
    pdf = VALID["report.pdf"]
    added = add_files(corpus, [("notes.txt", text(1)), ("../../Report.pdf", pdf)])
    assert added == [
        Added("notes.txt", "uploads/notes.txt", "added"),
        Added("../../Report.pdf", "uploads/Report.pdf", "added"),
    ]
    assert (corpus / "uploads" / "notes.txt").read_bytes() == text(1)
    assert (corpus / "uploads" / "Report.pdf").read_bytes() == pdf
    assert listing(corpus) == ["uploads/Report.pdf", "uploads/notes.txt", "volcano.txt"]


def test_refused_files_are_reported_in_order_and_not_written(corpus: Path) -> None:
    added = add_files(corpus, [("a.exe", b"MZ"), ("b.txt", text(2)), ("c.pdf", b"nope")])
    assert [(a.name, a.outcome, a.source) for a in added] == [
        ("a.exe", "refused", ""),
        ("b.txt", "added", "uploads/b.txt"),
        ("c.pdf", "refused", ""),
    ]
    assert added[2].reason.startswith("not a PDF")
    assert listing(corpus / "uploads") == ["b.txt"]


def test_a_name_taken_by_other_bytes_gets_a_number(corpus: Path) -> None:
    first = add_files(corpus, [("notes.txt", text(1))])
    again = add_files(corpus, [("notes.txt", text(2)), ("notes.txt", text(3))])
    assert [a.source for a in first + again] == ["uploads/notes.txt", "uploads/notes (2).txt", "uploads/notes (3).txt"]
    assert [(corpus / a.source).read_bytes() for a in first + again] == [text(1), text(2), text(3)]


def test_a_numbered_name_still_fits_in_255_bytes(corpus: Path) -> None:
    name = "é" * 200 + ".txt"
    sources = [a.source for a in add_files(corpus, [(name, text(1)), (name, text(2))])]
    assert sources[1].endswith(" (2).txt") and sources[0] != sources[1]
    assert all(len(Path(s).name.encode("utf-8")) <= 255 for s in sources)


def test_the_same_bytes_are_a_duplicate_of_a_known_file_within_a_call_and_under_the_same_name(corpus: Path) -> None:
    known = {hashlib.sha256(TEXT).hexdigest(): "volcano.txt"}
    added = add_files(corpus, [("copy.txt", TEXT), ("a.txt", text(1)), ("b.txt", text(1))], known=known)
    assert added == [
        Added("copy.txt", "volcano.txt", "duplicate", "already in the corpus as volcano.txt"),
        Added("a.txt", "uploads/a.txt", "added"),
        Added("b.txt", "uploads/a.txt", "duplicate", "already in the corpus as uploads/a.txt"),
    ]
    # Unknown to the caller, but the same name already holds these bytes.
    assert add_files(corpus, [("a.txt", text(1))]) == [
        Added("a.txt", "uploads/a.txt", "duplicate", "already in the corpus as uploads/a.txt")
    ]
    assert listing(corpus / "uploads") == ["a.txt"]


def test_too_many_files_are_refused_before_anything_is_written(corpus: Path) -> None:
    files = [(f"{n}.txt", text(n)) for n in range(4)]
    with pytest.raises(QueryError, match="4 files is more than the 3"):
        add_files(corpus, files, limits=UploadLimits(max_files=3))
    assert not (corpus / "uploads").exists()
    assert len(add_files(corpus, files[:3], limits=UploadLimits(max_files=3))) == 3


def test_an_upload_folder_linked_out_of_the_corpus_is_refused(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (corpus / "uploads").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CorpusError, match="is a link or lies behind one"):
        add_files(corpus, [("a.txt", text(1))])
    (corpus / "dangling").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    with pytest.raises(CorpusError, match="is a link or lies behind one"):
        add_files(corpus, [("a.txt", text(1))], folder="dangling")
    assert listing(outside) == [] and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("folder", ["../out", ".hidden", "a/../b", "/abs"])
def test_a_bad_upload_folder_is_refused(corpus: Path, folder: str) -> None:
    with pytest.raises(QueryError, match="upload folder"):
        add_files(corpus, [("a.txt", text(1))], folder=folder)


def test_a_nested_upload_folder_is_created(corpus: Path) -> None:
    [added] = add_files(corpus, [("a.txt", text(1))], folder="inbox/alice")
    assert added.source == "inbox/alice/a.txt" and (corpus / "inbox" / "alice" / "a.txt").read_bytes() == text(1)


def test_an_empty_upload_folder_is_the_corpus_itself(corpus: Path) -> None:
    [added] = add_files(corpus, [("a.txt", text(1))], folder="")
    assert added.source == "a.txt" and (corpus / "a.txt").read_bytes() == text(1)


def test_a_missing_corpus_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        add_files(tmp_path / "nope", [("a.txt", text(1))])


@pytest.mark.parametrize("broken", ["fsync", "link", "write"])
def test_a_failed_write_leaves_no_temporary_file(corpus: Path, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    add_files(corpus, [("first.txt", text(1))])

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if broken == "write":
        monkeypatch.setattr(uploads, "open", lambda *a, **k: fail(), raising=False)
    else:
        monkeypatch.setattr(os, broken, fail)
    second, third = add_files(corpus, [("second.txt", text(2)), ("third.txt", text(3))])
    monkeypatch.undo()
    # Each file is told: the one that failed with the reason, the next one too.
    assert (second.outcome, second.reason) == ("refused", "cannot be saved in uploads/: No space left on device")
    assert third.outcome == "refused"
    assert listing(corpus / "uploads") == ["first.txt"]


def test_the_scan_never_lists_a_temporary_file(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    link = os.link

    def scan_then_link(source: str, target: str) -> None:
        # The moment between the written temporary file and its final name.
        assert any(p.name.startswith(".upload-") for p in (corpus / "uploads").iterdir())
        seen.append([entry.source for entry in scan_corpus(corpus)])
        seen.append(sorted(FolderSource(corpus).scan()))
        link(source, target)

    monkeypatch.setattr(os, "link", scan_then_link)
    add_files(corpus, [("a.txt", text(1)), ("b.md", text(2))])
    assert seen == [["volcano.txt"]] * 2 + [["uploads/a.txt", "volcano.txt"]] * 2
    assert [e.source for e in scan_corpus(corpus)] == ["uploads/a.txt", "uploads/b.md", "volcano.txt"]


def run_at_once(count: int, name: str, raw: Callable[[int], bytes], corpus: Path) -> list[Added]:
    """``count`` threads released together, thread ``n`` adding ``(name, raw(n))``: what each was told."""
    barrier = threading.Barrier(count)
    results: list[list[Added]] = [[] for _ in range(count)]

    def one(n: int) -> None:
        barrier.wait()
        results[n] = add_files(corpus, [(name, raw(n))])

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(len(result) == 1 for result in results)
    return [result[0] for result in results]


def test_threads_adding_different_files_under_one_name_overwrite_nothing(corpus: Path) -> None:
    added = run_at_once(8, "same.txt", text, corpus)
    assert all(a.outcome == "added" for a in added)
    sources = {a.source for a in added}
    assert sources == {"uploads/same.txt", *(f"uploads/same ({n}).txt" for n in range(2, 9))}
    # Each thread's bytes are whole, under the name it was told.
    for n, a in enumerate(added):
        assert (corpus / a.source).read_bytes() == text(n)
    assert listing(corpus / "uploads") == sorted(Path(s).name for s in sources)


def test_threads_adding_the_same_bytes_keep_one_whole_file(corpus: Path) -> None:
    raw = VALID["notes.md"]
    added = run_at_once(8, "notes.md", lambda n: raw, corpus)
    assert [a.outcome for a in added].count("added") >= 1
    assert all(a.outcome in ("added", "duplicate") for a in added)
    # Every outcome names a file that holds the bytes; nothing else is left.
    assert all((corpus / a.source).read_bytes() == raw for a in added)
    assert listing(corpus / "uploads") == ["notes.md"]


def test_an_upload_is_indexed_and_a_known_file_is_a_duplicate(corpus: Path, tmp_path: Path) -> None:
    fake = FakeEmbedder()
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake)
    known = {sha: source for source, sha in index.manifest.files.items()}
    added = add_files(corpus, [("again.txt", TEXT), ("mill.md", VALID["notes.md"])], known=known)
    assert [a.outcome for a in added] == ["duplicate", "added"] and added[0].source == "volcano.txt"
    update_index(corpus, tmp_path / "index", embedder=fake)
    assert qa.load_index(tmp_path / "index", embedder=fake).sources() == ["uploads/mill.md", "volcano.txt"]
    remove_file(corpus, tmp_path / "index", "uploads/mill.md")
    update_index(corpus, tmp_path / "index", embedder=fake)
    assert qa.load_index(tmp_path / "index", embedder=fake).sources() == ["volcano.txt"]


# -- remove_file -------------------------------------------------------------------------------------------------


def test_a_removed_file_is_moved_into_the_trash_whole(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    moved = remove_file(corpus, index, "volcano.txt")
    assert not (corpus / "volcano.txt").exists()
    assert moved.parent == index / TRASH and moved.name.endswith("Z-volcano.txt")
    assert moved.read_bytes() == TEXT


def test_removing_from_a_subfolder_and_clashing_in_the_trash(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Frozen:
        @staticmethod
        def now(tz: object) -> object:
            from datetime import datetime, timezone

            return datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

    monkeypatch.setattr(uploads, "datetime", Frozen)
    add_files(corpus, [("volcano.txt", text(1))])
    first = remove_file(corpus, tmp_path / "index", "volcano.txt")
    second = remove_file(corpus, tmp_path / "index", "uploads/volcano.txt")
    assert first.name == "20240501T120000000000Z-volcano.txt"
    assert second.name == "20240501T120000000000Z-volcano (2).txt"
    assert (first.read_bytes(), second.read_bytes()) == (TEXT, text(1))


def test_a_link_inside_the_corpus_leaves_its_target(corpus: Path, tmp_path: Path) -> None:
    (corpus / "alias.txt").symlink_to(corpus / "volcano.txt")
    moved = remove_file(corpus, tmp_path / "index", "alias.txt")
    assert not (corpus / "alias.txt").is_symlink() and not moved.is_symlink()
    assert moved.read_bytes() == (corpus / "volcano.txt").read_bytes() == TEXT


@pytest.mark.parametrize(
    "source", ["../x.txt", "a/../../x.txt", "..\\x.txt", "/etc/passwd", "C:\\x.txt", "", ".git/config", "a\0.txt"]
)
def test_a_source_outside_the_corpus_or_hidden_is_refused(corpus: Path, tmp_path: Path, source: str) -> None:
    (tmp_path / "x.txt").write_bytes(b"outside")
    with pytest.raises(QueryError):
        remove_file(corpus, tmp_path / "index", source)
    assert (tmp_path / "x.txt").read_bytes() == b"outside"


def test_links_out_of_the_corpus_and_folders_are_refused(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (corpus / "link.txt").symlink_to(outside / "secret.txt")
    (corpus / "door").symlink_to(outside, target_is_directory=True)
    (corpus / "folder").mkdir()
    for source, reason in (
        ("link.txt", "leads outside"),
        ("door/secret.txt", "leads outside"),
        ("folder", "not a regular file"),
    ):
        with pytest.raises(QueryError, match=reason):
            remove_file(corpus, tmp_path / "index", source)
    assert (outside / "secret.txt").read_bytes() == b"secret" and (corpus / "link.txt").is_symlink()


def test_a_missing_file_is_a_corpus_error(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"gone\.txt is not in the corpus folder"):
        remove_file(corpus, tmp_path / "index", "gone.txt")


def test_a_trash_the_scan_would_read_is_refused(corpus: Path) -> None:
    with pytest.raises(CorpusError, match="removed files would be indexed again"):
        remove_file(corpus, corpus / "index", "volcano.txt")
    assert (corpus / "volcano.txt").read_bytes() == TEXT
    # A hidden index folder in the corpus is skipped by the scan: fine.
    assert remove_file(corpus, corpus / ".index", "volcano.txt").read_bytes() == TEXT


def test_another_file_system_is_copied_synced_then_removed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(source: object, target: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", cross_device)
    moved = remove_file(corpus, tmp_path / "index", "volcano.txt")
    assert moved.read_bytes() == TEXT and not (corpus / "volcano.txt").exists()


def test_a_failed_move_keeps_the_file_and_leaves_no_trash(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(CorpusError, match=r"cannot move volcano\.txt into .*trash: Permission denied"):
        remove_file(corpus, tmp_path / "index", "volcano.txt")
    assert (corpus / "volcano.txt").read_bytes() == TEXT
    assert listing(tmp_path / "index" / TRASH) == []


def test_a_trash_that_is_the_corpus_folder_itself_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / TRASH
    corpus.mkdir()
    (corpus / "volcano.txt").write_bytes(TEXT)
    with pytest.raises(CorpusError, match="removed files would be indexed again"):
        remove_file(corpus, tmp_path, "volcano.txt")
    assert listing(corpus) == ["volcano.txt"]
