"""The HTML reader: the article's main text, title, date and sections, without the page around it."""

from __future__ import annotations

import pytest
from support.samples import (
    MIXED,
)

from qa.ingest.files import read_file
from qa.search.hits import citation


def test_html_reader_keeps_the_article_and_drops_the_page_around_it() -> None:
    read = read_file(MIXED, "seed-library.html")
    assert (read.extracted.title, read.extracted.date) == ("Thornbury opens a seed library", "2024-04-06")
    for boilerplate in ("Museum opening hours", "cookies", "Subscribe", "All rights reserved", "Related stories"):
        assert boilerplate not in read.text
    opening = next(p for p in read.passages if "Saturday mornings" in p.text)
    assert opening.section is None and opening.page is None
    borrowing = next(p for p in read.passages if "five packets" in p.text)
    assert citation("", borrowing) == "seed-library.html ¶3 (line 9), section “How borrowing works”"


PAGE = b"""<html><head><title>Tide tables</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article>
<h1>Tide tables</h1>
<p>The harbour publishes its tide tables every month, a week before the month begins.</p>
<h2>Where to find them</h2>
<ul><li>At the harbour office on the quay.</li><li>In the window of the ferry booking hall.</li></ul>
<table><tr><td>High water</td><td>06:12</td></tr><tr><td>Low water</td><td>12:25</td></tr></table>
<p>Printed copies are free of charge and may be taken away by anyone who asks for one.</p>
</article>
<footer>Copyright the Harbour Board</footer>
</body></html>"""


def test_lists_and_tables_are_one_paragraph_with_a_line_per_item_or_row() -> None:
    from qa.ingest.readers.html import HtmlReader

    read = HtmlReader().read(PAGE, "tides.html")
    assert read.kind == "html" and read.derived and read.title == "Tide tables"
    paragraphs = [(read.text[b.start : b.end], b.section) for b in read.blocks]
    texts = [text for text, _ in paragraphs]
    assert "At the harbour office on the quay.\nIn the window of the ferry booking hall." in texts
    assert "High water | 06:12\nLow water | 12:25" in texts
    assert paragraphs[0][1] is None and paragraphs[-1][1] == "Where to find them"
    assert "Home" not in read.text and "Copyright" not in read.text


@pytest.mark.parametrize("raw", [b"<html><body><nav>Menu</nav></body></html>", b"", b"\x00\x01\x02 not html"])
def test_a_page_without_an_article_is_unreadable(raw: bytes) -> None:
    from qa.ingest.readers import UnreadableError
    from qa.ingest.readers.html import HtmlReader

    with pytest.raises(UnreadableError, match="web page"):
        HtmlReader().read(raw, "empty.html")
