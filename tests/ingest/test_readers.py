"""The readers behind one interface: the mixed sample, files they cannot read, the extraction cache."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from support.samples import (
    MIXED,
    encrypted_pdf,
    make_samples,
    zip_bomb,
)

import qa
from qa.ingest.files import read_file
from qa.ingest.readers import extract, reader_for


def test_the_committed_sample_is_what_the_script_writes() -> None:
    assert make_samples.main(["--check"]) == 0


@pytest.mark.parametrize("name", ["report.pdf", "hives.docx", "seed-library.html", "tide-mill.md", "ferry.txt"])
def test_every_paragraph_is_the_readers_text_at_its_offsets(name: str) -> None:
    read = read_file(MIXED, name)
    assert read.passages
    for passage in read.passages:
        assert read.text[passage.start_char : passage.end_char] == passage.text
        assert passage.text.strip() == passage.text
        line = read.text[: passage.start_char].count("\n") + 1
        assert (passage.start_line, passage.end_line) == (line, line + passage.text.count("\n"))


def test_plain_text_has_no_page_and_no_section(fake: FakeEmbedder, mixed: Path, tmp_path: Path) -> None:
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=0.0))
    answer = index.answer("Cramond ferry River Almond rowing boat", sources=["ferry.txt"])
    data = answer.to_dict()["quotes"][0]
    assert (data["page"], data["end_page"], data["section"]) == (None, None, None)
    assert data["citation"].endswith("/ferry.txt ¶1 (line 1)")
    pdf = index.answer("eleven volunteers cleaned the Fresnel lens", sources=["report.pdf"]).to_dict()["quotes"][0]
    assert (pdf["page"], pdf["end_page"], pdf["section"], pdf["citation"].endswith("/report.pdf p. 2 ¶2")) == (
        2,
        2,
        "The lens",
        True,
    )


def test_a_mixed_folder_indexes_every_format(fake: FakeEmbedder, mixed: Path, tmp_path: Path) -> None:
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake)
    assert index.report is not None and index.report.skipped == ()
    assert set(index.sources()) == {"ferry.txt", "hives.docx", "report.pdf", "seed-library.html", "tide-mill.md"}
    # What was stored is what is read back.
    stored = [p for p in index.passages if p.source == "report.pdf"]
    assert stored == list(read_file(mixed, "report.pdf").passages)


def test_file_names_in_any_case_are_read(fake: FakeEmbedder, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(MIXED / "report.pdf", corpus / "REPORT.PDF")
    (corpus / "Notes.TXT").write_text("Gulls nest on the tower.", encoding="utf-8")
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    assert index.sources() == ["Notes.TXT", "REPORT.PDF"]
    assert reader_for("a/b/REPORT.PDF") is reader_for("report.pdf")


UNREADABLE = {
    "scan.pdf": (lambda: make_samples.pdf_bytes(text=False), "no text layer (OCR not supported)"),
    "locked.pdf": (encrypted_pdf, "encrypted PDF: it needs a password"),
    "broken.pdf": (lambda: make_samples.pdf_bytes()[:900], "not a readable PDF"),
    "broken.docx": (lambda: make_samples.docx_bytes()[:2000], "not a readable Word document"),
    "old.docx": (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "not a readable Word document"),
    "bomb.docx": (zip_bomb, "not a readable Word document (it unpacks to 80 MB, more than the 64 MB read)"),
    "empty.docx": (lambda: make_samples.docx_bytes([("Normal", " ")]), "no text in the Word document"),
    "menu.html": (lambda: b"<html><body><nav><a href=/>Home</a></nav></body></html>", "no article text"),
    "latin1.md": (lambda: "Caf\xe9 notes".encode("latin-1"), "not UTF-8 text"),
}


def test_unreadable_files_of_each_format_are_skipped_with_their_reasons(fake: FakeEmbedder, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "good.txt").write_text("The lighthouse keeper rows out at dawn.", encoding="utf-8")
    for name, (make, _) in UNREADABLE.items():
        (corpus / name).write_bytes(make())
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    assert index.sources() == ["good.txt"]
    assert index.report is not None
    reasons = dict(index.report.skipped)
    assert set(reasons) == set(UNREADABLE)
    for name, (_, reason) in UNREADABLE.items():
        assert reasons[name].startswith(reason), (name, reasons[name])
    # The same reasons come from the public reading API, and a rebuild keeps them.
    corpus_read = qa.read_corpus(corpus)
    assert {s.source: s.reason for s in corpus_read.skipped} == reasons
    assert dict(qa.build_index(corpus, tmp_path / "i", embedder=fake).report.skipped) == reasons  # type: ignore[union-attr]


def test_document_formats_that_are_not_read_are_reported_and_other_files_ignored(
    fake: FakeEmbedder, tmp_path: Path
) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "good.txt").write_text("The lighthouse keeper rows out at dawn.", encoding="utf-8")
    (corpus / "legacy.DOC").write_bytes(b"\xd0\xcf\x11\xe0 an old Word file")
    (corpus / "notes.odt").write_bytes(b"PK\x03\x04")
    (corpus / "photo.png").write_bytes(b"\x89PNG\r\n")
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake)
    assert index.report is not None
    reasons = dict(index.report.skipped)
    assert set(reasons) == {"legacy.DOC", "notes.odt"}, reasons
    assert "save it as .docx" in reasons["legacy.DOC"] and ".odt" in reasons["notes.odt"]
    assert index.sources() == ["good.txt"]


def test_extraction_is_kept_per_file_and_hash() -> None:
    first = extract("a.pdf", make_samples.pdf_bytes())
    assert extract("a.pdf", make_samples.pdf_bytes()) is first
    # A title can come from the name: the same bytes under another name are read for it.
    assert extract("Harbour_Notes.txt", b"Gulls.").title == "Harbour Notes"
    assert extract("Other_Notes.txt", b"Gulls.").title == "Other Notes"
    changed = make_samples.pdf_bytes([("body", "An entirely different report about harbour seals.")])
    assert extract("a.pdf", changed).text == "An entirely different report about harbour seals."


def test_an_index_of_the_previous_format_is_rebuilt(fake: FakeEmbedder, mixed: Path, tmp_path: Path) -> None:
    from qa.index import ensure_index

    folder = tmp_path / "index"
    qa.build_index(mixed, folder, embedder=fake)
    # What format 2 wrote: no page or section columns.
    with sqlite3.connect(folder / "index.db") as connection:
        for column in ("page", "end_page", "page_paragraph", "section"):
            connection.execute(f"ALTER TABLE passages DROP COLUMN {column}")
        connection.execute("UPDATE meta SET value = '2' WHERE key = 'format_version'")
    with pytest.raises(qa.IndexMismatchError, match=r"older format \(2\).*qa index"):
        qa.load_index(folder, embedder=fake)
    messages: list[str] = []
    from qa import update

    original = update.load_embedder
    update.load_embedder = lambda model: fake  # type: ignore[assignment]
    try:
        rebuilt = ensure_index(folder, mixed, notify=messages.append)
    finally:
        update.load_embedder = original
    assert any("older format" in m for m in messages)
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 3
    assert next(p for p in rebuilt.passages if p.source == "report.pdf").page == 1


def test_extractions_are_cached_by_how_much_text_they_hold() -> None:
    from qa.ingest.readers import READERS
    from qa.ingest.readers.cache import ExtractionCache

    cache = ExtractionCache(size=64, characters=2000)
    text = READERS[0]
    small = [text.read(f"Note {n}: ".encode() + b"gulls " * 100, "n.txt") for n in range(3)]  # ~610 characters
    cache.put(("a.txt", "1", 10.0), small[0])
    cache.put(("b.txt", "2", 10.0), small[1])
    assert cache.get(("a.txt", "1", 10.0)) is small[0]  # a is now the most recently used
    cache.put(("c.txt", "3", 10.0), small[2])  # over 2,000: b goes, not a
    assert [source for source, _, _ in cache.kept()] == ["a.txt", "c.txt"]
    assert cache.held <= 2000
    assert cache.get(("b.txt", "2", 10.0)) is None
    # One that alone outweighs the cache is not kept, and pushes nothing out.
    cache.put(("big.txt", "4", 10.0), text.read(b"gulls " * 1000, "big.txt"))
    assert cache.get(("big.txt", "4", 10.0)) is None
    assert len(cache.kept()) == 2


def test_extract_parses_a_file_once_per_name_hash_and_limit() -> None:
    raw = b"Petrels nest on cliffs. " * 3
    first = extract("petrels.txt", raw)
    assert extract("petrels.txt", raw) is first
    assert extract("other-name.txt", raw) is not first  # the name can give the title
    assert extract("petrels.txt", raw, limit_mb=1.0) is not first
    assert extract("petrels.txt", raw + b"More.") is not first
