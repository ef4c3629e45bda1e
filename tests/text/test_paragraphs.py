"""Plain-text paragraphs: blank lines, hard-wrapped and long lines, offsets that slice back verbatim."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.corpus import read_corpus
from qa.text.paragraphs import paragraph_spans
from qa.text.passages import make_document, split_passages


def passages_of(text: str, source: str = "a.txt") -> list:
    return split_passages(make_document(source, text))


def assert_slices_back(text: str) -> None:
    for passage in passages_of(text):
        assert text[passage.start_char : passage.end_char] == passage.text
        assert passage.text == passage.text.strip()
        lines = text.split("\n")
        assert lines[passage.start_line - 1].strip().startswith(passage.text.split("\n")[0].strip()[:20])
        assert passage.end_line - passage.start_line == passage.text.count("\n")


def test_blank_line_runs_and_surrounding_whitespace() -> None:
    text = "\n\n  First paragraph here.  \n\n\n\n\t\nSecond one.\n   \n\nThird.\n\n"
    passages = passages_of(text)
    assert [p.text for p in passages] == ["First paragraph here.", "Second one.", "Third."]
    assert [p.start_line for p in passages] == [3, 8, 11]
    assert_slices_back(text)


def test_hard_wrapped_lines_stay_one_paragraph() -> None:
    text = (
        "The river rises in the mountains and runs for many miles through\n"
        "forests and farmland before it reaches the sea at the old port.\n"
        "\n"
        "A second paragraph, also wrapped at a modest width so that it\n"
        "spans two lines.\n"
    )
    passages = passages_of(text)
    assert len(passages) == 2
    assert (passages[0].start_line, passages[0].end_line) == (1, 2)
    assert (passages[1].start_line, passages[1].end_line) == (4, 5)
    assert passages[0].lines == "lines 1-2"
    assert_slices_back(text)


def test_long_lines_are_each_a_paragraph() -> None:
    long = "word " * 40
    text = f"{long.strip()} one.\n{long.strip()} two.\n{long.strip()} three."
    passages = passages_of(text)
    assert [p.paragraph for p in passages] == [1, 2, 3]
    assert [p.start_line for p in passages] == [1, 2, 3]
    assert_slices_back(text)


def test_title_line_above_long_paragraph_lines_is_its_own_paragraph() -> None:
    long = "A long paragraph line that goes on and on about the subject at hand, " * 3
    text = f"# Title\n{long}\n{long}"
    passages = passages_of(text, "a.md")
    assert [p.text for p in passages] == ["# Title", long.strip(), long.strip()]


def test_crlf_offsets_are_verbatim(tmp_path: Path) -> None:
    raw = "First line of a wrapped\r\nparagraph.\r\n\r\nSecond paragraph.\r\n"
    (tmp_path / "c.txt").write_bytes(raw.encode())
    document = read_corpus(tmp_path).documents[0]
    passages = split_passages(document)
    assert [p.text for p in passages] == ["First line of a wrapped\r\nparagraph.", "Second paragraph."]
    assert [(p.start_line, p.end_line) for p in passages] == [(1, 2), (4, 4)]
    for passage in passages:
        assert document.text[passage.start_char : passage.end_char] == passage.text


def test_bom_is_not_part_of_the_text(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_bytes("\ufeffHello world.\n\nBye.".encode())
    document = read_corpus(tmp_path).documents[0]
    assert document.text.startswith("Hello")
    assert [p.start_char for p in split_passages(document)] == [0, 14]


def test_unicode_punctuation_offsets() -> None:
    text = "“Quoted,” she said — it’s 3½ km… away.\n\nΚαλημέρα κόσμε! 日本語の段落。\n"
    passages = passages_of(text)
    assert [p.text for p in passages] == ["“Quoted,” she said — it’s 3½ km… away.", "Καλημέρα κόσμε! 日本語の段落。"]
    assert_slices_back(text)


def test_each_passage_has_a_content_hash() -> None:
    first, second = passages_of("Same text.\n\nOther text.\n\nSame text.")[0::2]
    assert first.sha256 == second.sha256
    assert first.key == "a.txt#1" and second.key == "a.txt#3"


def test_empty_and_whitespace_files_have_no_paragraphs() -> None:
    assert paragraph_spans("") == []
    assert paragraph_spans(" \n\n\t\n") == []
