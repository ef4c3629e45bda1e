"""The Markdown reader: headings as title and sections, front matter, fences and tables; quotes stay verbatim."""

from __future__ import annotations

import pytest
from support.samples import (
    MIXED,
)

from qa.ingest.files import read_file
from qa.ingest.readers import extract


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


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_markdown_front_matter_title_with_any_line_break(newline: str) -> None:
    text = newline.join(["---", 'title: "Tide Mills"  ', "author: Ann", "---", "", "# Other", "", "Body.", ""])
    read = extract("front.md", text.encode())
    assert read.title == "Tide Mills"
    assert [read.text[b.start : b.end] for b in read.blocks] == ["Body."]


def test_setext_headings_breaks_and_an_unclosed_fence() -> None:
    from qa.ingest.readers.markdown import MarkdownReader

    text = "Mill\n====\n\nIt ground corn.\n\nWorks\n-----\n\nWater turns it.\n\n***\n\n```\ncode that never closes\n"
    read = MarkdownReader().read(text.encode(), "m.md")
    assert read.title == "Mill"
    chunks = [(text[b.start : b.end], b.section) for b in read.blocks]
    # The title's own heading opens no section; the thematic break is no paragraph; an unclosed
    # fence runs to the end of the file, without the final line break.
    assert chunks == [
        ("It ground corn.", None),
        ("Water turns it.", "Works"),
        ("```\ncode that never closes", "Works"),
    ]


def test_without_headings_or_front_matter_the_title_comes_from_the_name() -> None:
    from qa.ingest.readers.markdown import MarkdownReader

    read = MarkdownReader().read(b"Just a paragraph.\r\n\r\nAnd another.", "Harbour_Notes.md")
    assert read.title == "Harbour Notes"
    assert [read.text[b.start : b.end] for b in read.blocks] == ["Just a paragraph.", "And another."]
