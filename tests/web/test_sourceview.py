"""The source pane of each format: the extracted text, and a PDF's page with the quoted lines marked."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeEmbedder

import qa
from qa.answer.quotes import Quote
from qa.ingest.readers.pdfpage import PAGE_WIDTH
from qa.web import pane as render
from qa.web import sourceview as chat


def test_pdf_source_pane_shows_the_page_with_the_quoted_lines_boxed(
    fake: FakeEmbedder, mixed: Path, tmp_path: Path
) -> None:
    index = qa.build_index(mixed, tmp_path / "index", embedder=fake, settings=qa.Settings(threshold=0.0))
    answer = index.answer("eleven volunteers cleaned the Fresnel lens", sources=["report.pdf"])
    quote = answer.quotes[0]
    view = chat.source_view(index, quote)
    assert view.kind == "pdf" and [p.page for p in view.pages] == [2]
    page = view.pages[0]
    assert page.png.startswith(b"\x89PNG") and abs(page.width - PAGE_WIDTH) <= 1 and not page.rotated
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
