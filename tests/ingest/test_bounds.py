"""Extraction bounded: characters and paragraphs per file, pages per PDF, and long paragraphs split at sentence ends."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.samples import body_lines, lines_pdf

import qa
from qa.ingest.files import load
from qa.ingest.readers import extract
from qa.ingest.readers.base import Extracted, Run
from qa.ingest.readers.bounds import MAX_PARAGRAPH_CHARS, MAX_PARAGRAPHS, bounded, max_characters, pieces
from qa.text.passages import Block

SENTENCE = "The harbour master logged every grain ship that reached the quay before noon. "


def test_one_huge_line_is_cited_as_one_paragraph_in_pieces_cut_at_sentence_ends() -> None:
    line = (SENTENCE * 70_000).strip()  # about 5.5 MB on one line
    read = load("ledger.txt", (line + "\n\nA short second paragraph.").encode())
    pieces_of_first = [p for p in read.passages if p.paragraph == 1]
    # Before: one paragraph of 5.5 million characters (3,936 windows to embed, one quote of it all).
    assert len(pieces_of_first) == -(-len(line) // (MAX_PARAGRAPH_CHARS // len(SENTENCE) * len(SENTENCE)))
    assert all(len(p.text) <= MAX_PARAGRAPH_CHARS for p in pieces_of_first)
    # Each piece is verbatim where it says, on line 1 of paragraph 1, and ends a sentence.
    for passage in pieces_of_first:
        assert read.text[passage.start_char : passage.end_char] == passage.text
        assert (passage.start_line, passage.end_line, passage.place) == (1, 1, "¶1 (line 1)")
        assert passage.text.endswith(".") and passage.text[0].isupper()
    assert "".join(p.text + " " for p in pieces_of_first).strip() == line
    # The paragraph after it keeps its own number.
    assert [p.paragraph for p in read.passages][-1] == 2 and read.passages[-1].text == "A short second paragraph."


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .!?\nA"), min_size=1, max_size=400), st.integers(5, 60))
def test_pieces_are_bounded_trimmed_and_cover_every_non_space_character(text: str, most: int) -> None:
    spans = list(pieces(text, 0, len(text), most))
    assert all(0 < end - start <= most for start, end in spans)
    assert all(not text[start].isspace() and not text[end - 1].isspace() for start, end in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert re.sub(r"\s", "", "".join(text[s:e] for s, e in spans)) == re.sub(r"\s", "", text)


def test_a_file_of_too_many_paragraphs_is_skipped_with_the_count() -> None:
    text = "\n\n".join(f"Paragraph {n}." for n in range(MAX_PARAGRAPHS + 1))
    with pytest.raises(qa.CorpusError, match=f"^it has {MAX_PARAGRAPHS + 1:,} paragraphs, more than the 20,000 read$"):
        extract("many.txt", text.encode())


def test_a_file_whose_text_is_longer_than_the_size_limit_allows_is_skipped() -> None:
    text = ("Word " * 5_000).strip()
    assert max_characters(0.01) == 10_485 < len(text)
    with pytest.raises(
        qa.CorpusError, match=r"^its text is 24,999 characters, more than the 10,485 read for a 0.01 MB"
    ):
        extract("long.txt", text.encode(), limit_mb=0.01)


def test_a_pdf_of_too_many_pages_is_skipped_before_its_pages_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.ingest.readers.pdf as pdf

    monkeypatch.setattr(pdf, "MAX_PAGES", 3)
    read_pages: list[int] = []
    page_lines = pdf._page_lines
    monkeypatch.setattr(pdf, "_page_lines", lambda *a: read_pages.append(a[1]) or page_lines(*a))
    with pytest.raises(qa.CorpusError, match=r"^it has 4 pages, more than the 3 read$"):
        pdf.PdfReader().read(lines_pdf([body_lines(3)] * 4), "four.pdf")
    assert read_pages == []


def test_pieces_of_a_pdf_paragraph_cite_the_pages_they_are_on() -> None:
    text = ("A line of the long paragraph. " * 600).strip()
    half = len(text) // 2
    runs = (Run(0, half, 4, 0), Run(half, len(text), 5, 0))
    extracted = Extracted("pdf", text, "", (Block(0, len(text), 4, 5, 2),), runs=runs)
    blocks = bounded(extracted, 10.0).blocks
    assert len(blocks) == 3 and {b.paragraph for b in blocks} == {1}
    assert (blocks[0].page, blocks[0].end_page) == (4, 4) and (blocks[-1].page, blocks[-1].end_page) == (5, 5)
    assert blocks[1].page == 4 and blocks[1].end_page == 5
    # ¶2 of page 4 where it starts there; carried over onto page 5, the piece is that page's ¶1.
    assert [b.page_paragraph for b in blocks] == [2, 2, 1]


def test_an_extraction_within_the_bounds_is_left_as_it_is() -> None:
    extracted = Extracted("text", "One.\n\nTwo.", "", (Block(0, 4), Block(6, 10)))
    assert bounded(extracted, 10.0) is extracted
