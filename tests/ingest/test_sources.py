"""Where documents come from (qa.ingest.sources): folder scans and loads, raw bytes, documents in memory."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

from qa.ingest.scan import UNSUPPORTED_DOCUMENTS
from qa.ingest.sources import (
    DocumentSource,
    FolderSource,
    IndexedFile,
    Loaded,
    RawFile,
    Signature,
    content_changed,
    extract,
)
from qa.text.passages import make_document

#: The signature of an entry that is skipped or cannot be read: no real file has it.
UNREAD = Signature(-1, 0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- scanning a folder -------------------------------------------------------------------------


def test_a_scan_names_every_article_with_its_size_and_time(corpus: Path) -> None:
    found = FolderSource(corpus).scan()
    assert set(found) == {"volcano.txt", "bakery.md", "nested/rivers.txt"}
    for name, signature in found.items():
        status = (corpus / name).stat()
        assert signature == Signature(status.st_size, status.st_mtime_ns)


def test_hidden_files_and_files_that_are_no_articles_are_not_scanned(corpus: Path) -> None:
    (corpus / ".draft.txt").write_text("Hidden.", encoding="utf-8")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "notes.txt").write_text("Hidden too.", encoding="utf-8")
    (corpus / "photo.png").write_bytes(b"\x89PNG")
    assert set(FolderSource(corpus).scan()) == {"volcano.txt", "bakery.md", "nested/rivers.txt"}


def test_skipped_entries_are_scanned_with_a_signature_no_file_has(corpus: Path) -> None:
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (corpus / "huge.txt").write_text("Ledger line.\n" * 200, encoding="utf-8")
    found = FolderSource(corpus, limit_mb=0.001).scan()
    assert found["old.doc"] == UNREAD and found["huge.txt"] == UNREAD
    assert all(signature != UNREAD for name, signature in found.items() if name not in {"old.doc", "huge.txt"})


def test_a_rescan_sees_a_file_change_size(corpus: Path) -> None:
    source = FolderSource(corpus)
    before = source.scan()["volcano.txt"]
    with (corpus / "volcano.txt").open("a", encoding="utf-8") as file:
        file.write("\nA new paragraph about ash.\n")
    after = source.scan()["volcano.txt"]
    assert after.size > before.size


# -- loading a file ----------------------------------------------------------------------------


def test_loading_an_article_gives_its_document_and_the_hash_of_its_bytes(corpus: Path) -> None:
    source = FolderSource(corpus)
    source.scan()
    loaded = source.load("nested/rivers.txt")
    raw = (corpus / "nested" / "rivers.txt").read_bytes()
    assert loaded.source == "nested/rivers.txt" and loaded.sha256 == sha256(raw)
    assert loaded.skipped is None and not loaded.unreadable
    assert loaded.document is not None and loaded.document.text == raw.decode("utf-8")
    assert loaded.document.sha256 == loaded.sha256 and loaded.document.source == "nested/rivers.txt"


def test_a_file_is_judged_on_its_own_when_it_was_not_scanned(corpus: Path) -> None:
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    source = FolderSource(corpus)
    assert source.load("volcano.txt").document is not None
    skipped = source.load("old.doc")
    assert skipped.document is None and skipped.skipped == UNSUPPORTED_DOCUMENTS[".doc"]


def test_a_skipped_file_loads_as_its_reason_without_being_read(corpus: Path) -> None:
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    source = FolderSource(corpus)
    source.scan()
    reason = UNSUPPORTED_DOCUMENTS[".doc"]
    # The "hash" names the reason, so that a change of reason is a change of content.
    assert source.load("old.doc") == Loaded("old.doc", f"skipped: {reason}", None, reason)


def test_a_file_over_the_size_limit_is_skipped_with_the_limit_named(corpus: Path) -> None:
    (corpus / "huge.txt").write_text("Ledger line.\n" * 200, encoding="utf-8")
    source = FolderSource(corpus, limit_mb=0.001)
    source.scan()
    loaded = source.load("huge.txt")
    assert loaded.document is None and not loaded.unreadable
    assert loaded.skipped is not None and "over the 0.001 MB limit" in loaded.skipped
    assert loaded.sha256 == f"skipped: {loaded.skipped}"


def test_a_file_gone_since_the_scan_is_unreadable_not_skipped(corpus: Path) -> None:
    source = FolderSource(corpus)
    source.scan()
    (corpus / "volcano.txt").unlink()
    loaded = source.load("volcano.txt")
    assert loaded.unreadable and loaded.document is None
    assert loaded.skipped == os.strerror(errno.ENOENT) and loaded.sha256 == f"unreadable: {os.strerror(errno.ENOENT)}"


def test_a_file_its_reader_cannot_parse_is_skipped_with_the_hash_of_its_bytes(corpus: Path) -> None:
    raw = b"\x00\x01\x02binary"
    (corpus / "binary.txt").write_bytes(raw)
    source = FolderSource(corpus)
    source.scan()
    loaded = source.load("binary.txt")
    assert loaded.document is None and loaded.skipped and not loaded.unreadable
    # Its bytes were read: an edit that makes it readable shows as a new hash.
    assert loaded.sha256 == sha256(raw)


# -- raw bytes, then extraction ----------------------------------------------------------------


def test_fetch_gives_the_exact_bytes_and_their_hash(corpus: Path) -> None:
    fetched = FolderSource(corpus).fetch("bakery.md")
    raw = (corpus / "bakery.md").read_bytes()
    assert fetched == RawFile("bakery.md", sha256(raw), raw)


def test_fetch_of_a_skipped_file_gives_the_skip_and_no_bytes(corpus: Path) -> None:
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    fetched = FolderSource(corpus).fetch("old.doc")
    assert isinstance(fetched, Loaded) and fetched.skipped == UNSUPPORTED_DOCUMENTS[".doc"]


def test_extracting_fetched_bytes_is_what_loading_gives(corpus: Path) -> None:
    source = FolderSource(corpus)
    fetched = source.fetch("bakery.md")
    assert isinstance(fetched, RawFile)
    extracted = extract(fetched)
    loaded = source.load("bakery.md")
    assert extracted == loaded
    assert extracted.document is not None and loaded.document is not None
    assert extracted.document.passages == loaded.document.passages


def test_extracting_bytes_no_reader_takes_keeps_their_hash() -> None:
    raw = RawFile("broken.txt", "f" * 64, b"\x00\x00\x00")
    loaded = extract(raw)
    assert loaded.source == "broken.txt" and loaded.sha256 == "f" * 64
    assert loaded.document is None and loaded.skipped and not loaded.unreadable


# -- what changed ------------------------------------------------------------------------------


def loaded_as(sha: str, skipped: str | None = None) -> Loaded:
    return Loaded("a.txt", sha, None, skipped)


def test_a_file_the_index_never_saw_has_changed() -> None:
    assert content_changed(None, loaded_as("h1"))


def test_the_same_bytes_are_no_change_whatever_the_size_and_time_say() -> None:
    assert not content_changed(IndexedFile(10, 1, "h1", None), loaded_as("h1"))
    assert not content_changed(IndexedFile(99, 2, "h1", None), loaded_as("h1"))


def test_other_bytes_or_another_skip_reason_are_a_change() -> None:
    assert content_changed(IndexedFile(10, 1, "h1", None), loaded_as("h2"))
    assert content_changed(IndexedFile(10, 1, "h1", "binary"), loaded_as("h1"))
    assert content_changed(IndexedFile(10, 1, "h1", "binary"), loaded_as("h1", "too large"))
    assert not content_changed(IndexedFile(10, 1, "h1", "binary"), loaded_as("h1", "binary"))


# -- documents in memory -----------------------------------------------------------------------


def test_documents_in_memory_are_scanned_by_length_and_hash() -> None:
    documents = [make_document("d1", "Glaciers carve valleys."), make_document("d2", "Lava cools into basalt.")]
    found = DocumentSource(documents).scan()
    assert found == {d.source: Signature(len(d.text), int(d.sha256[:15], 16)) for d in documents}


def test_a_document_with_other_text_of_the_same_length_has_another_signature() -> None:
    before = DocumentSource([make_document("d1", "Glaciers carve valleys.")]).scan()["d1"]
    after = DocumentSource([make_document("d1", "Glaciers carve gorges!.")]).scan()["d1"]
    assert before.size == after.size and before != after


def test_a_document_in_memory_loads_as_itself() -> None:
    document = make_document("d1", "Glaciers carve valleys.\n\nThey move slowly.")
    loaded = DocumentSource([document]).load("d1")
    assert loaded == Loaded("d1", document.sha256, document)
    assert loaded.document is document
