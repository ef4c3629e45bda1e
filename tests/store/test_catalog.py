"""The catalog of an index: every file with its title, counts, size, time and lead, and one file's paragraphs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder
from support.samples import encrypted_pdf

import qa
from qa.ingest.scan import UNSUPPORTED_DOCUMENTS
from qa.store import catalog
from qa.store.catalog import LEAD_CHARS, DocumentInfo
from qa.store.database import DATABASE
from qa.update import update_index

MIXED_FILES = ["ferry.txt", "hives.docx", "report.pdf", "seed-library.html", "tide-mill.md"]


@pytest.fixture
def mixed_index(mixed: Path, tmp_path: Path, fake: FakeEmbedder) -> qa.Index:
    """The mixed sample plus an encrypted PDF, an empty file and an old Word document."""
    (mixed / "locked.pdf").write_bytes(encrypted_pdf())
    (mixed / "empty.txt").write_text("", encoding="utf-8")
    (mixed / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 an old Word file")
    return qa.build_index(mixed, tmp_path / "index", embedder=fake)


def by_source(index: qa.Index) -> dict[str, DocumentInfo]:
    return {d.source: d for d in index.documents()}


# -- documents ---------------------------------------------------------------------------------------------------


def test_documents_list_every_file_indexed_or_skipped_sorted_by_path(mixed_index: qa.Index) -> None:
    sources = [d.source for d in mixed_index.documents()]
    assert sources == sorted([*MIXED_FILES, "locked.pdf", "empty.txt", "old.doc"])


def test_documents_give_title_paragraph_count_and_pages(mixed_index: qa.Index) -> None:
    docs = by_source(mixed_index)
    assert docs["report.pdf"].title == "Restoring the Kettle Point Lighthouse"
    assert docs["hives.docx"].title == "Rooftop Hives of Larkfield"
    assert docs["seed-library.html"].title == "Thornbury opens a seed library"
    assert docs["tide-mill.md"].title == "The Tide Mill at Eling"
    assert docs["ferry.txt"].paragraphs == 2
    assert docs["report.pdf"].pages == 2
    # Pages only for PDF.
    assert all(docs[name].pages is None for name in MIXED_FILES if name != "report.pdf")
    for name in MIXED_FILES:
        assert docs[name].skipped is None
        assert docs[name].paragraphs == len(mixed_index.passages_of(name)) > 0


def test_document_kind_is_the_format_of_each_file(mixed_index: qa.Index) -> None:
    docs = by_source(mixed_index)
    assert {name: docs[name].kind for name in MIXED_FILES} == {
        "ferry.txt": "txt",
        "hives.docx": "docx",
        "report.pdf": "pdf",
        "seed-library.html": "html",
        "tide-mill.md": "md",
    }


def test_document_size_is_the_bytes_of_the_file_read(mixed_index: qa.Index, mixed: Path) -> None:
    # old.doc is skipped by the folder scan, never read: its size is not known.
    for doc in mixed_index.documents():
        if doc.source != "old.doc":
            assert doc.size == (mixed / doc.source).stat().st_size
    assert by_source(mixed_index)["empty.txt"].size == 0


def test_document_indexed_is_when_the_file_was_read(mixed: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    before = time.time()
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake)
    after = time.time()
    for doc in index.documents():
        assert isinstance(doc.indexed, float)
        assert before - 1 <= doc.indexed <= after + 1


def test_document_indexed_moves_only_for_the_file_read_again(corpus: Path, tmp_path: Path, fake: FakeEmbedder) -> None:
    qa.build_index(corpus, tmp_path / "index", embedder=fake)
    first = {d.source: d.indexed for d in qa.load_index(tmp_path / "index", embedder=fake).documents()}
    time.sleep(0.05)
    (corpus / "volcano.txt").write_text("Mount Etna erupted again this spring, covering Catania in ash.\n")
    update_index(corpus, tmp_path / "index", embedder=fake)
    second = {d.source: d.indexed for d in qa.load_index(tmp_path / "index", embedder=fake).documents()}
    assert second["bakery.md"] == first["bakery.md"]
    assert second["nested/rivers.txt"] == first["nested/rivers.txt"]
    assert second["volcano.txt"] is not None and first["volcano.txt"] is not None
    assert second["volcano.txt"] > first["volcano.txt"]


def test_lead_is_the_start_of_the_first_paragraph(mixed_index: qa.Index) -> None:
    for name in MIXED_FILES:
        doc = by_source(mixed_index)[name]
        first = mixed_index.passages_of(name)[0]
        assert doc.lead == first.text[:LEAD_CHARS]
        assert 0 < len(doc.lead) <= LEAD_CHARS


def test_lead_is_cut_at_lead_chars_characters_not_bytes(tmp_path: Path, fake: FakeEmbedder) -> None:
    long = "Café Zürich " * 60 + "ends here."
    corpus = write_corpus(tmp_path / "corpus", {"long.txt": long + "\n\nA second paragraph.\n"})
    index = qa.build_index(corpus, tmp_path / "index", embedder=fake)
    [doc] = index.documents()
    assert len(long) > LEAD_CHARS
    assert doc.lead == long[:LEAD_CHARS]
    assert len(doc.lead) == LEAD_CHARS


def test_skipped_files_are_listed_with_their_reason_and_no_paragraphs(mixed_index: qa.Index) -> None:
    docs = by_source(mixed_index)
    locked, old = docs["locked.pdf"], docs["old.doc"]
    assert locked.skipped is not None and "encrypted" in locked.skipped
    assert old.skipped == UNSUPPORTED_DOCUMENTS[".doc"]
    for doc in (locked, old):
        assert doc.paragraphs == 0
        assert doc.pages is None
        assert doc.lead == ""
        assert mixed_index.passages_of(doc.source) == []
    assert locked.kind == "pdf"


def test_empty_file_is_listed_with_no_paragraphs_and_no_lead(mixed_index: qa.Index) -> None:
    empty = by_source(mixed_index)["empty.txt"]
    assert empty.paragraphs == 0
    assert empty.lead == ""
    assert empty.pages is None
    assert mixed_index.passages_of("empty.txt") == []


# -- passages_of -------------------------------------------------------------------------------------------------


def test_passages_of_gives_the_paragraphs_in_order_as_slices_of_the_file(fake_index: qa.Index, corpus: Path) -> None:
    for name in ("volcano.txt", "bakery.md", "nested/rivers.txt"):
        text = (corpus / name).read_text(encoding="utf-8")
        passages = fake_index.passages_of(name)
        assert [p.paragraph for p in passages] == list(range(1, len(passages) + 1))
        assert all(p.source == name for p in passages)
        for passage in passages:
            assert text[passage.start_char : passage.end_char] == passage.text
        assert [p.start_char for p in passages] == sorted(p.start_char for p in passages)


def test_passages_of_a_markdown_file_skip_its_front_matter_and_headings(mixed_index: qa.Index, mixed: Path) -> None:
    text = (mixed / "tide-mill.md").read_text(encoding="utf-8")
    passages = mixed_index.passages_of("tide-mill.md")
    assert passages[0].text.startswith("The tide mill at Eling has ground flour")
    for passage in passages:
        assert text[passage.start_char : passage.end_char] == passage.text


def test_passages_of_a_pdf_give_their_pages(mixed_index: qa.Index) -> None:
    passages = mixed_index.passages_of("report.pdf")
    assert [p.paragraph for p in passages] == list(range(1, len(passages) + 1))
    assert passages[0].page == 1
    assert max(p.end_page or p.page or 0 for p in passages) == 2
    assert all(p.page is not None for p in passages)


def test_passages_of_an_unknown_source_is_empty(fake_index: qa.Index) -> None:
    assert fake_index.passages_of("missing.txt") == []
    assert fake_index.passages_of("") == []
    assert fake_index.passages_of("rivers.txt") == []  # the file is nested/rivers.txt
    assert fake_index.passages_of("VOLCANO.TXT") == []


# -- an index from before files.indexed -------------------------------------------------------------------------


def test_index_without_the_indexed_column_still_lists_its_documents(
    corpus: Path, tmp_path: Path, fake: FakeEmbedder
) -> None:
    expected = [
        (d.source, d.title, d.paragraphs, d.lead)
        for d in qa.build_index(corpus, tmp_path / "index", embedder=fake).documents()
    ]
    with sqlite3.connect(tmp_path / "index" / DATABASE) as connection:
        connection.execute("ALTER TABLE files DROP COLUMN indexed")
    index = qa.load_index(tmp_path / "index", embedder=fake)
    docs = index.documents()
    assert [(d.source, d.title, d.paragraphs, d.lead) for d in docs] == expected
    assert all(d.indexed is None for d in docs)
    assert len(index.passages_of("volcano.txt")) == 2


def old_layout() -> sqlite3.Connection:
    """An in-memory database with the files table as written before ``files.indexed`` existed."""
    connection = sqlite3.connect(":memory:")
    connection.executescript(
        """
        CREATE TABLE files(source TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL, title TEXT NOT NULL DEFAULT '', skipped TEXT);
        CREATE TABLE passages(id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, paragraph INTEGER NOT NULL,
            start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL, text TEXT NOT NULL, sha256 TEXT NOT NULL, page INTEGER, end_page INTEGER,
            page_paragraph INTEGER, section TEXT);
        """
    )
    connection.executemany(
        "INSERT INTO files VALUES (?, ?, 0, 'h', ?, ?)",
        [("b.pdf", 900, "Report", None), ("a.txt", 40, "Alpha", None), ("c.doc", 7, "", "not read")],
    )
    # Inserted out of order: passages_of sorts by paragraph.
    connection.executemany(
        "INSERT INTO passages(source, paragraph, start_line, end_line, start_char, end_char, text, sha256, page,"
        " end_page, page_paragraph, section) VALUES (?, ?, ?, ?, ?, ?, ?, 'h', ?, ?, ?, NULL)",
        [
            ("b.pdf", 2, 3, 3, 10, 20, "Second page.", 2, 3, 1),
            ("a.txt", 2, 3, 3, 8, 14, "Second", None, None, None),
            ("a.txt", 1, 1, 1, 0, 6, "First.", None, None, None),
            ("b.pdf", 1, 1, 1, 0, 9, "First pg.", 1, 1, 1),
        ],
    )
    return connection


def test_catalog_documents_of_an_older_layout_have_no_indexed_time() -> None:
    with old_layout() as connection:
        docs = catalog.documents(connection)
    assert docs == [
        DocumentInfo("a.txt", "Alpha", None, 2, None, 40, None, "First."),
        DocumentInfo("b.pdf", "Report", None, 2, 3, 900, None, "First pg."),
        DocumentInfo("c.doc", "", "not read", 0, None, 7, None, ""),
    ]


def test_catalog_passages_of_are_in_paragraph_order() -> None:
    with old_layout() as connection:
        passages = catalog.passages_of(connection, "a.txt")
        assert catalog.passages_of(connection, "c.doc") == []
        assert catalog.passages_of(connection, "nothing") == []
    assert [(p.paragraph, p.text) for p in passages] == [(1, "First."), (2, "Second")]


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("report.PDF", "pdf"),
        ("nested/notes.md", "md"),
        ("archive.tar.gz", "gz"),
        ("README", ""),
        ("v1.2/README", ""),
        ("uploads/page.HTML", "html"),
    ],
)
def test_kind_is_the_lowercased_ending_of_the_file_name(source: str, kind: str) -> None:
    assert DocumentInfo(source, "", None, 0, None, 0, None).kind == kind


def test_the_file_of_each_passage_and_the_passages_of_each_file(tmp_path: Path, fake: FakeEmbedder) -> None:
    files = {"a.txt": "One.\n\nTwo.\n\nThree.", "sub/b.txt": "Only."}
    index = qa.build_index(write_corpus(tmp_path / "c", files), tmp_path / "i", embedder=fake)
    ids = {(p.source, p.paragraph): pid for pid, p in enumerate(index.passages, start=1)}
    snapshot = index.snapshot
    found = snapshot.sources_of([*ids.values(), 999, 999])
    assert found == {pid: source for (source, _), pid in ids.items()}
    assert snapshot.sizes_of(["a.txt", "sub/b.txt", "missing.txt", "a.txt"]) == {"a.txt": 3, "sub/b.txt": 1}
    assert snapshot.sizes_of([]) == {} and snapshot.sources_of([]) == {}
    # Lists longer than one SQL statement takes are read in parts.
    many = catalog.sources_of(snapshot._connection, list(range(1, 1200)))
    assert set(many) == set(ids.values())
