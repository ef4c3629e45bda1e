"""The plain-text reader: the file's own text (UTF-8, BOM dropped, line endings kept), paragraphs, a title."""

from __future__ import annotations

import pytest

from qa.ingest.readers import UnreadableError, reader_for
from qa.ingest.readers.text import TextReader, decoded


def test_the_text_is_the_files_own_with_its_line_endings() -> None:
    raw = "\ufeffFirst line\r\nstill the first paragraph.\r\n\r\nSecond.".encode()
    read = TextReader().read(raw, "notes.txt")
    assert read.kind == "text" and not read.derived
    assert read.text == "First line\r\nstill the first paragraph.\r\n\r\nSecond."
    assert [read.text[b.start : b.end] for b in read.blocks] == [
        "First line\r\nstill the first paragraph.",
        "Second.",
    ]
    assert all(b.page is None and b.section is None for b in read.blocks)


def test_the_title_is_a_heading_line_or_a_name_made_of_words() -> None:
    assert TextReader().read(b"# Tide Mill\n\nIt ground corn.", "x1.txt").title == "Tide Mill"
    assert TextReader().read(b"It ground corn.", "Tide_Mill_History.txt").title == "Tide Mill History"
    assert TextReader().read(b"It ground corn.", "000_3ff9e896d4582ee2.txt").title == ""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"\xff\xfeh\x00i\x00", "binary file"), (b"caf\xe9 au lait", "not UTF-8 text"), (b"ok\x00", "binary file")],
)
def test_bytes_that_are_not_utf8_text_are_unreadable(raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableError, match=reason):
        decoded(raw)


def test_endings_choose_the_reader_in_any_case() -> None:
    assert isinstance(reader_for("a/B.TXT"), TextReader)
    assert reader_for("notes.text") is None and reader_for("txt") is None
