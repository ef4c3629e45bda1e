"""The readers of each format on the mixed sample, and files they cannot read (no model needed)."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from fakes import FakeEmbedder

import qa
from qa.answer.quotes import Quote
from qa.ingest.files import read_file
from qa.ingest.readers import extract, reader_for
from qa.search.hits import citation
from qa.web import render
from qa.web import sourceview as chat

sys.path.insert(0, str(ROOT / "scripts"))
import make_samples

MIXED = ROOT / "tests" / "data" / "mixed"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return Path(shutil.copytree(MIXED, tmp_path / "mixed"))


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


def test_pdf_paragraphs_are_rebuilt_from_the_layout() -> None:
    read = read_file(MIXED, "report.pdf")
    assert read.extracted.title == "Restoring the Kettle Point Lighthouse"
    texts = [p.text for p in read.passages]
    # The hyphenated line end is one word again; the page numbers in the footers are gone.
    lens = next(p for p in read.passages if "Fresnel" in p.text)
    assert "the reassembled lens was lifted" in lens.text and "\n" not in lens.text
    assert (lens.page, lens.end_page, lens.page_paragraph, lens.section) == (2, 2, 2, "The lens")
    assert "hand-ground glass" in lens.text
    assert not any(t.strip() in {"1", "2"} for t in texts)
    # The paragraph that runs from page 1 onto page 2 is one paragraph citing both.
    repainted = next(p for p in read.passages if "repainted" in p.text)
    assert repainted.text.endswith("in the first winter of the restoration.")
    assert (repainted.page, repainted.end_page) == (1, 2)
    assert citation("", repainted) == "report.pdf pp. 1–2 ¶6"
    assert citation("", lens) == "report.pdf p. 2 ¶2"
    # Headings are sections, not paragraphs.
    assert not any(t in {"The lens", "Work on the tower"} for t in texts)


def test_html_reader_keeps_the_article_and_drops_the_page_around_it() -> None:
    read = read_file(MIXED, "seed-library.html")
    assert (read.extracted.title, read.extracted.date) == ("Thornbury opens a seed library", "2024-04-06")
    for boilerplate in ("Museum opening hours", "cookies", "Subscribe", "All rights reserved", "Related stories"):
        assert boilerplate not in read.text
    opening = next(p for p in read.passages if "Saturday mornings" in p.text)
    assert opening.section is None and opening.page is None
    borrowing = next(p for p in read.passages if "five packets" in p.text)
    assert citation("", borrowing) == "seed-library.html ¶3 (line 9), section “How borrowing works”"


def test_word_reader_reads_headings_as_sections() -> None:
    read = read_file(MIXED, "hives.docx")
    assert read.extracted.title == "Rooftop Hives of Larkfield"
    funding = [p for p in read.passages if p.section == "Funding"]
    assert len(funding) == 2 and "Larkfield Community Fund" in funding[0].text
    assert citation("", funding[0]) == "hives.docx ¶3 (line 11), section “Funding”"


def test_markdown_headings_front_matter_fences_and_tables() -> None:
    read = read_file(MIXED, "tide-mill.md")
    raw = (MIXED / "tide-mill.md").read_text(encoding="utf-8")
    # Quotes stay verbatim slices of the file itself.
    assert read.text == raw
    assert read.extracted.title == "The Tide Mill at Eling"
    texts = [p.text for p in read.passages]
    assert not any("author:" in t or t.startswith("#") for t in texts)
    table = next(t for t in texts if t.startswith("| Year"))
    assert table.count("\n") == 3
    fence = next(t for t in texts if t.startswith("```"))
    assert "Closed on Mondays" in fence and fence.endswith("```")
    sections = {p.section for p in read.passages}
    assert sections == {None, "How it works", "Visiting"}


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


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_samples.pdf_bytes())))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (80 * 2**20))
    return out.getvalue()


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


def test_pdf_source_pane_shows_the_page_with_the_quoted_lines_boxed(
    fake: FakeEmbedder, mixed: Path, tmp_path: Path
) -> None:
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=0.0))
    answer = index.answer("eleven volunteers cleaned the Fresnel lens", sources=["report.pdf"])
    quote = answer.quotes[0]
    view = chat.source_view(index, quote)
    assert view.kind == "pdf" and [p.page for p in view.pages] == [2]
    page = view.pages[0]
    assert page.png.startswith(b"\x89PNG") and abs(page.width - 900) <= 1 and not page.rotated
    lines = [b for b in page.boxes if b.kind == "quote"]
    # One box per line of the paragraph, from the top of page 2, inside the page.
    assert len(lines) == 6
    assert all(b.left >= 0 and b.left + b.width <= 1 and b.top >= 0 and b.top + b.height <= 1 for b in lines)
    assert 0.1 < min(b.top for b in lines) < max(b.top for b in lines) < 0.35
    html = render.source_html(view)
    assert 'src="data:image/png;base64,' in html and html.count('class="qa-box qa-box-quote"') == 6
    assert "section “The lens”" in html


def test_html_and_word_source_panes_show_the_extracted_text(fake: FakeEmbedder, mixed: Path, tmp_path: Path) -> None:
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=0.0))
    for source, question, section in (
        ("hives.docx", "Larkfield Community Fund pays for the hives", "Funding"),
        ("seed-library.html", "borrowers take five packets of seeds", "How borrowing works"),
    ):
        quote: Quote = index.answer(question, sources=[source]).quotes[0]
        view = chat.source_view(index, quote)
        assert view.kind in ("docx", "html") and not view.pages
        assert view.text[view.start_char : view.end_char] == quote.text
        html = render.source_html(view)
        assert f"section “{section}”" in html and "the text as read from the file" in html
        assert '<span class="qa-para">' in html and "<img" not in html


# Hostile and awkward files, written here: each test below is a regression test of a reader bug.


def lines_pdf(
    pages: list[list[tuple[float, float, str]]], *, box: str = "/MediaBox [0 0 612 792]", title: str = ""
) -> bytes:
    """A PDF of pages of ``(font size, baseline, text)`` lines in Helvetica; ``box`` as each page's boxes."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * n} 0 R" for n in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number, page in enumerate(pages):
        stream = "\n".join(f"BT /F1 {size:g} Tf 72 {y:g} Td ({text}) Tj ET" for size, y, text in page).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R {box} /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * number} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = f" /Info {len(objects) + 1} 0 R" if title else ""
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def body_lines(count: int, top: float = 700, step: float = 14) -> list[tuple[float, float, str]]:
    return [
        (11, top - step * n, f"Body line {n} about the tide mill and the miller who ran it for years.")
        for n in range(count)
    ]


@pytest.mark.parametrize(
    "box",
    [
        "/MediaBox [0 0 612 792] /CropBox [612 792 0 0]",  # inverted
        "/MediaBox [0 0 612 792] /CropBox [0 0 0 0]",  # empty
        "/MediaBox [0 0 0 0] /CropBox [0 0 0 0]",  # no size at all
        "/MediaBox [0 0 612 792] /CropBox [300 300 300.5 300.2]",  # a speck
        "/MediaBox [0 0 14400 14400]",  # the largest page PDF allows
        "/MediaBox [0 0 14400 3]",  # a ribbon
    ],
)
def test_a_pdf_page_of_a_hostile_size_renders_a_bounded_bitmap(box: str) -> None:
    from qa.ingest.readers.pdfpage import MAX_PIXELS, PAGE_WIDTH, render_pages

    raw = lines_pdf([body_lines(5)], box=box)
    read = extract("hostile.pdf", raw)
    (image,) = render_pages(raw, read.runs, [(0, 40, "quote")], [1])
    assert image.png.startswith(b"\x89PNG")
    assert image.width <= PAGE_WIDTH + 1 and image.width * image.height <= MAX_PIXELS * 1.01
    # Boxes are on the page as drawn (none for text outside a speck of a crop box).
    assert all(0 <= b.left <= b.left + b.width <= 1 and 0 <= b.top <= b.top + b.height <= 1 for b in image.boxes)


def test_a_page_that_cannot_be_drawn_is_a_value_error_and_frees_pdfium(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import pypdfium2

    from qa.ingest.readers.pdf import PDFIUM_LOCK
    from qa.ingest.readers.pdfpage import render_pages

    def no_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(pypdfium2.PdfPage, "render", no_memory)
    raw = lines_pdf([body_lines(5)])
    with pytest.raises(ValueError, match=r"the PDF page cannot be drawn \(MemoryError\)"):
        render_pages(raw, (), [], [1])
    # Another thread can take PDFium at once: the failed render let it go.
    taken: list[bool] = []

    def take() -> None:
        if PDFIUM_LOCK.acquire(blocking=False):
            taken.append(True)
            PDFIUM_LOCK.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    assert taken == [True]


class CountingLock:
    """A stand-in for :data:`PDFIUM_LOCK` that logs each time it is taken and let go."""

    def __init__(self) -> None:
        self.depth = 0
        self.events: list[str] = []

    def __enter__(self) -> None:
        self.depth += 1
        self.events.append("take")

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        self.events.append("free")


def test_pdfium_is_held_per_page_and_not_while_a_png_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    import qa.ingest.readers.pdf as pdf
    import qa.ingest.readers.pdfpage as pdfpage

    lock = CountingLock()
    monkeypatch.setattr(pdf, "PDFIUM_LOCK", lock)
    monkeypatch.setattr(pdfpage, "PDFIUM_LOCK", lock)
    page_lines = pdf._page_lines

    def logged(*args: Any) -> Any:
        assert lock.depth == 1
        lock.events.append("page")
        return page_lines(*args)

    monkeypatch.setattr(pdf, "_page_lines", logged)
    raw = lines_pdf([body_lines(5)] * 4)
    read = pdf.PdfReader().read(raw, "four.pdf")
    assert lock.depth == 0 and lock.events.count("page") == 4
    # PDFium is let go between every two pages: a page drawn meanwhile waits for one page only.
    between = "".join("p" if e == "page" else "f" if e == "free" else "" for e in lock.events)
    assert "pp" not in between
    encoded: list[int] = []
    save = Image.Image.save

    def logged_save(self: Image.Image, *args: Any, **kwargs: Any) -> None:
        encoded.append(lock.depth)
        save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", logged_save)
    images = pdfpage.render_pages(raw, read.runs, [(0, 40, "quote")], [1, 2, 3])
    assert len(images) == 3 and encoded == [0, 0, 0] and lock.depth == 0


def test_pdf_paragraphs_are_numbered_on_each_page() -> None:
    # Three paragraphs a page, set apart by space; the last runs on over the page.
    page = [
        (11, 700 - 40 * n - 14 * k, f"Paragraph {n} line {k} of the page text about the mill.")
        for n in range(3)
        for k in range(2)
    ]
    read = extract("numbered.pdf", lines_pdf([page] * 4))
    # A paragraph carried over from the page before is the first on its page: the next is the second.
    assert [(b.page, b.end_page, b.page_paragraph) for b in read.blocks] == [
        (1, 1, 1),
        (1, 1, 2),
        (1, 2, 3),
        (2, 2, 2),
        (2, 3, 3),
        (3, 3, 2),
        (3, 4, 3),
        (4, 4, 2),
        (4, 4, 3),
    ]


def test_a_number_alone_on_a_line_is_dropped_only_as_a_header_or_footer() -> None:
    page = [
        (11, 770, "12"),  # header
        (11, 740, "The population of the town in the census year was"),
        (11, 726, "4096"),
        (11, 712, "people, and the mill ground grain for all of them."),
        *body_lines(3, top=680),
        (11, 30, "Page 12 of 40"),  # footer
    ]
    read = extract("census.pdf", lines_pdf([page]))
    assert "census year was 4096 people, and the mill" in read.text
    assert "12" not in read.text and "Page" not in read.text


def test_a_pdf_heading_over_two_lines_is_one_title_without_pdfium_marks() -> None:
    page = [
        (20, 740, "Tidal Power and the Old Mills of the Atlantic Coast: A Short Histo-"),
        (20, 716, "ry of the Region"),
        *body_lines(6, top=680),
    ]
    read = extract("heading.pdf", lines_pdf([page]))
    assert read.title == "Tidal Power and the Old Mills of the Atlantic Coast: A Short History of the Region"
    assert "\x02" not in read.text
    # The title's heading is no section.
    assert {b.section for b in read.blocks} == {None}


def many_paragraphs_docx(count: int) -> bytes:
    """A .docx whose body is ``count`` one-word paragraphs (small on disk, huge unpacked)."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    )
    body = head + b"<w:p><w:r><w:t>word</w:t></w:r></w:p>" * count + b"<w:sectPr/></w:body></w:document>"
    seed = zipfile.ZipFile(io.BytesIO(make_samples.docx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in seed.infolist():
            data = body if item.filename == "word/document.xml" else seed.read(item.filename)
            archive.writestr(item.filename, data)
    return out.getvalue()


def test_a_word_document_of_too_many_paragraphs_is_refused_before_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docx

    from qa.ingest.readers.word import MAX_PARAGRAPHS

    raw = many_paragraphs_docx(MAX_PARAGRAPHS + 1)
    opened: list[object] = []
    monkeypatch.setattr(docx, "Document", lambda *a: opened.append(a))
    with pytest.raises(qa.CorpusError, match=r"^not a readable Word document \(more than 100,000 paragraphs\)$"):
        extract("long.docx", raw)
    assert opened == []


def test_what_a_word_document_may_unpack_to_follows_the_file_size_limit() -> None:
    from qa.ingest.readers.word import MAX_UNPACKED, unpacked_limit

    assert unpacked_limit(10 * 2**20) == 100 * 2**20  # ten times the 10 MB files indexed
    assert unpacked_limit(10**9, 100_000) == MAX_UNPACKED
    assert unpacked_limit(10**9, 1e308) == MAX_UNPACKED
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (12 * 2**20))
    with pytest.raises(qa.CorpusError, match=r"it unpacks to 12 MB, more than the 10 MB read"):
        extract("packed.docx", out.getvalue(), limit_mb=1)


def test_word_styles_are_read_by_id_without_python_docxs_lookup_per_paragraph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docx
    from docx.text.paragraph import Paragraph

    document = docx.Document()
    document.add_paragraph("Rooftop Hives", style="Title")
    document.add_paragraph("Bees on roofs.")
    document.add_paragraph("Funding", style="Heading 1")
    # A style id the document does not define is its default style, as python-docx has it.
    document.add_paragraph("A grant.")._p.get_or_add_pPr().style = "NoSuchStyle"
    out = io.BytesIO()
    document.save(out)
    raw = out.getvalue()
    looked_up: list[object] = []
    monkeypatch.setattr(Paragraph, "style", property(lambda self: looked_up.append(self)))
    read = extract("styled.docx", raw)
    assert looked_up == []
    assert read.title == "Rooftop Hives"
    assert [(read.text[b.start : b.end], b.section) for b in read.blocks] == [
        ("Bees on roofs.", None),
        ("A grant.", "Funding"),
    ]


def test_extractions_are_cached_by_how_much_text_they_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import OrderedDict

    import qa.ingest.readers as readers

    monkeypatch.setattr(readers, "_cache", OrderedDict())
    monkeypatch.setattr(readers, "_cache_weight", 0)
    monkeypatch.setattr(readers, "CACHE_CHARACTERS", 2000)
    small = [f"Note {n}: ".encode() + b"gulls " * 100 for n in range(3)]  # about 610 characters and one paragraph
    first = extract("a.txt", small[0])
    extract("b.txt", small[1])
    assert extract("a.txt", small[0]) is first  # a is now the most recently used
    extract("c.txt", small[2])  # over 2,000: b goes, not a
    assert [source for source, _, _ in readers._cache] == ["a.txt", "c.txt"]
    assert readers._cache_weight <= 2000
    # One that alone outweighs the cache is read each time, and pushes nothing out.
    big = b"gulls " * 1000
    assert extract("big.txt", big) is not extract("big.txt", big)
    assert len(readers._cache) == 2


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_markdown_front_matter_title_with_any_line_break(newline: str) -> None:
    text = newline.join(["---", 'title: "Tide Mills"  ', "author: Ann", "---", "", "# Other", "", "Body.", ""])
    read = extract("front.md", text.encode())
    assert read.title == "Tide Mills"
    assert [read.text[b.start : b.end] for b in read.blocks] == ["Body."]
