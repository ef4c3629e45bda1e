"""The PDF reader: paragraphs rebuilt from the layout, pages, headings, page furniture."""

from __future__ import annotations

import pytest
from support.samples import (
    MIXED,
    body_lines,
    lines_pdf,
)

from qa.ingest.files import read_file
from qa.ingest.readers import extract
from qa.search.hits import citation


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


def test_a_pdf_title_comes_from_its_metadata_or_first_heading() -> None:
    from qa.ingest.readers.pdf import PdfReader

    lines = [(20, 740, "The Quay Crane"), *body_lines(4)]
    assert PdfReader().read(lines_pdf([lines]), "c.pdf").title == "The Quay Crane"
    assert PdfReader().read(lines_pdf([lines], title="Annual Report"), "c.pdf").title == "Annual Report"


def test_runs_map_every_character_of_the_text_to_its_page() -> None:
    from qa.ingest.readers.pdf import PdfReader

    read = PdfReader().read(lines_pdf([body_lines(3), body_lines(2)]), "two.pdf")
    assert read.kind == "pdf" and read.derived
    assert {run.page for run in read.runs} == {1, 2}
    # Runs lie inside the text, in order, never overlapping.
    assert all(0 <= a.start < a.end <= len(read.text) for a in read.runs)
    assert all(a.end <= b.start for a, b in zip(read.runs, read.runs[1:], strict=False))
    assert {b.page for b in read.blocks} <= {1, 2}


@pytest.mark.parametrize(("raw", "reason"), [(b"%PDF-1.4 broken", "not a readable PDF"), (b"", "not a readable PDF")])
def test_a_damaged_pdf_is_unreadable(raw: bytes, reason: str) -> None:
    from qa.ingest.readers import UnreadableError
    from qa.ingest.readers.pdf import PdfReader

    with pytest.raises(UnreadableError, match=reason):
        PdfReader().read(raw, "broken.pdf")
