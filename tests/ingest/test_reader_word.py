"""The Word reader: paragraphs, headings as sections, tables; documents too big to read refused early."""

from __future__ import annotations

import io
import zipfile

import pytest
from support.samples import (
    MIXED,
    many_paragraphs_docx,
)

import qa
from qa.ingest.files import read_file
from qa.ingest.readers import extract
from qa.ingest.readers.word import WordReader
from qa.search.hits import citation


def test_word_reader_reads_headings_as_sections() -> None:
    read = read_file(MIXED, "hives.docx")
    assert read.extracted.title == "Rooftop Hives of Larkfield"
    funding = [p for p in read.passages if p.section == "Funding"]
    assert len(funding) == 2 and "Larkfield Community Fund" in funding[0].text
    assert citation("", funding[0]) == "hives.docx ¶3 (line 11), section “Funding”"


def test_a_word_document_of_too_many_paragraphs_is_refused_before_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docx

    from qa.ingest.readers.bounds import MAX_PARAGRAPHS

    raw = many_paragraphs_docx(MAX_PARAGRAPHS + 1)
    opened: list[object] = []
    monkeypatch.setattr(docx, "Document", lambda *a: opened.append(a))
    # The reader itself (in this process, where the stand-in is seen) refuses it before parsing.
    with pytest.raises(qa.CorpusError, match=r"^not a readable Word document \(more than 20,000 paragraphs\)$"):
        WordReader().read(raw, "long.docx")
    assert opened == []
    # And so does the sandboxed read every caller goes through.
    with pytest.raises(qa.CorpusError, match=r"more than 20,000 paragraphs"):
        extract("long.docx", raw)


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
    # Read in this process, where the stand-in is seen (``extract`` reads in a worker).
    read = WordReader().read(raw, "styled.docx")
    assert looked_up == []
    assert read.title == "Rooftop Hives"
    assert [(read.text[b.start : b.end], b.section) for b in read.blocks] == [
        ("Bees on roofs.", None),
        ("A grant.", "Funding"),
    ]


def _docx(build: object) -> bytes:
    import docx

    document = docx.Document()
    build(document)  # type: ignore[operator]
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_title_headings_and_tables_as_the_document_has_them() -> None:
    from qa.ingest.readers.word import WordReader

    def build(document: object) -> None:
        document.add_heading("Ferry timetable", level=0)  # type: ignore[attr-defined]
        document.add_paragraph("Boats leave every hour.")  # type: ignore[attr-defined]
        document.add_heading("Winter", level=1)  # type: ignore[attr-defined]
        document.add_paragraph("   ")  # type: ignore[attr-defined]
        table = document.add_table(rows=2, cols=2)  # type: ignore[attr-defined]
        for row, (day, time) in enumerate([("Monday", "09:00"), ("Sunday", "11:00")]):
            table.cell(row, 0).text, table.cell(row, 1).text = day, time

    read = WordReader().read(_docx(build), "ferry.docx")
    assert read.kind == "docx" and read.title == "Ferry timetable"
    assert [(read.text[b.start : b.end], b.section) for b in read.blocks] == [
        ("Boats leave every hour.", None),
        ("Monday | 09:00\nSunday | 11:00", "Winter"),
    ]


def test_a_document_with_no_text_or_not_a_docx_is_unreadable() -> None:
    from qa.ingest.readers import UnreadableError
    from qa.ingest.readers.word import WordReader

    with pytest.raises(UnreadableError, match="no text in the Word document"):
        WordReader().read(_docx(lambda document: None), "empty.docx")
    with pytest.raises(UnreadableError, match=r"not a \.docx zip file"):
        WordReader().read(b"\xd0\xcf\x11\xe0 an old .doc", "old.docx")
