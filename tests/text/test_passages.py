"""Passages: one numbering for the Python API and the index, and citations of every kind of place."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT, write_corpus
from fakes import FakeEmbedder

import qa
from qa.text.passages import Block, Document, Passage, make_document, passages_of, split_passages

MIXED = ROOT / "tests" / "data" / "mixed"

#: Front matter, a heading, a paragraph, a fenced code block with a blank line inside, a paragraph.
MARKDOWN = """---
title: "Harbour notes"
author: someone
---

# Harbour notes

The ferry leaves the harbour every hour in summer.

```
timetable

last boat 22:10
```

Winter crossings stop when the wind is over force six.
"""


def test_the_python_api_numbers_paragraphs_as_the_index_cites_them(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"notes.md": MARKDOWN})
    shutil.copytree(MIXED, corpus / "mixed")
    read = {p.key: p for d in qa.read_corpus(corpus).documents for p in qa.split_passages(d)}
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    cited = {p.key: p for p in index.passages}
    assert read == cited
    notes = [p for p in index.passages if p.source == "notes.md"]
    # Front matter and the heading are no paragraphs; the code block is one, blank line and all.
    assert [p.paragraph for p in notes] == [1, 2, 3]
    assert notes[1].text.startswith("```") and "last boat" in notes[1].text
    assert notes[2].start_line == 16


def test_a_document_made_from_text_is_split_as_plain_text() -> None:
    document = make_document("a.txt", "# Title\n\nFirst paragraph. Second sentence.\n\nLast one.")
    assert document.title == "Title" and document.lead == "First paragraph."
    passages = split_passages(document)
    assert [p.text for p in passages] == ["# Title", "First paragraph. Second sentence.", "Last one."]
    # A document built by hand, without paragraphs, is split the same way.
    bare = Document("a.txt", document.text, "", "", document.sha256)
    assert split_passages(bare) == passages


def test_lines_are_counted_in_the_text_with_every_kind_of_break() -> None:
    text = "one\r\ntwo\rthree\n\nfour"
    passages = passages_of("x.txt", text, [Block(0, 14), Block(16, 20)])
    assert [(p.start_line, p.end_line) for p in passages] == [(1, 3), (5, 5)]
    assert [p.text for p in passages] == [text[0:14], "four"]


def test_places_of_plain_text_sections_and_pdf_pages() -> None:
    plain = Passage("a.txt", 3, 5, 7, 0, 1, "x", "h")
    assert plain.place == "¶3 (lines 5-7)" and plain.key == "a.txt#3"
    section = Passage("b.md", 2, 4, 4, 0, 1, "x", "h", section="Funding")
    assert section.place == "¶2 (line 4), section “Funding”"
    page = Passage("c.pdf", 9, 1, 1, 0, 1, "x", "h", page=4, end_page=5, page_paragraph=6)
    assert page.place == "pp. 4–5 ¶6"
