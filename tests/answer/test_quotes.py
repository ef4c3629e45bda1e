"""Quotes re-checked against the files: stale text never quoted, moved paragraphs cited where they are."""

from __future__ import annotations

from pathlib import Path

from conftest import write_corpus
from fakes import FakeEmbedder

import qa


def test_edited_file_is_not_quoted_stale(fake_index: qa.Index, corpus: Path) -> None:
    (corpus / "bakery.md").write_text("# The Corner Bakery\n\nIt closed down.\n", encoding="utf-8")
    answer = fake_index.answer("sourdough bread baked before dawn", k=1)
    assert all(q.source != "bakery.md" or q.paragraph == 1 for q in answer.quotes)
    assert any("no longer in the file" in w and "bakery.md" in w for w in answer.warnings)


def test_moved_paragraph_is_cited_where_it_is_now(fake_index: qa.Index, corpus: Path) -> None:
    path = corpus / "bakery.md"
    path.write_text("Inserted first.\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    answer = fake_index.answer("Maria Rossi trains apprentices", k=1)
    quote = answer.quotes[0]
    assert quote.relocated and (quote.paragraph, quote.start_line) == (3, 7)
    assert path.read_text(encoding="utf-8")[quote.start_char : quote.end_char] == quote.text
    assert any("changed since indexing" in w for w in answer.warnings)


def test_same_length_edit_that_moves_lines_is_recited(fake_index: qa.Index, corpus: Path) -> None:
    path = corpus / "volcano.txt"
    original = path.read_text(encoding="utf-8")
    # Same length, same offsets for the second paragraph, but it is now two lines lower.
    path.write_text(original.replace("Mount Etna is", "Mount\nEtna\nis", 1), encoding="utf-8")
    quote = fake_index.answer("Etna Observatory gas emissions", k=1).quotes[0]
    assert quote.paragraph == 2 and quote.start_line == 6 and quote.relocated
    assert path.read_text(encoding="utf-8")[quote.start_char : quote.end_char] == quote.text


def test_deleted_file_is_reported(fake_index: qa.Index, corpus: Path) -> None:
    (corpus / "volcano.txt").unlink()
    answer = fake_index.answer("Etna Observatory gas emissions", k=1)
    assert all(q.source != "volcano.txt" for q in answer.quotes)
    assert any("volcano.txt" in w for w in answer.warnings)


def test_also_in_citations_are_rechecked_like_quotes(tmp_path: Path, fake: FakeEmbedder) -> None:
    para = "The harbour authority approved a new breakwater to protect fishing boats from winter storms."
    files = {
        "a.txt": f"{para}\n\nUnrelated text about violins and orchestras.",
        "b.txt": f"Other intro about gardens.\n\n{para}",
        "c.txt": f"{para}",
    }
    corpus = write_corpus(tmp_path / "c", files)
    index = qa.build_index(corpus, tmp_path / "i", embedder=fake, settings=qa.Settings(threshold=0.0))
    # b.txt gains a line before the paragraph (it moves); c.txt loses it (gone).
    (corpus / "b.txt").write_text(f"New first line.\n\nOther intro about gardens.\n\n{para}", encoding="utf-8")
    (corpus / "c.txt").write_text("Now about something else entirely.", encoding="utf-8")
    quote = index.answer("breakwater fishing boats harbour", 1).quotes[0]
    assert quote.source == "a.txt"
    assert [c.rsplit("/", 1)[1] for c in quote.also_in] == ["b.txt ¶3 (line 5)"]
    moved = quote.duplicates[0]
    assert (corpus / "b.txt").read_text(encoding="utf-8")[moved.start_char : moved.end_char] == moved.text
