"""Sentences and titles: abbreviations that end none, titles from headings and file names, lead sentences."""

from __future__ import annotations

import pytest

from qa.text.passages import make_document
from qa.text.sentences import sentence_spans


def test_sentences_respect_abbreviations_and_quotes() -> None:
    text = "He met Dr. Amina Al-Tamimi in the U.S. office. “It works,” she said. Done!"
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == ["He met Dr. Amina Al-Tamimi in the U.S. office.", "“It works,” she said.", "Done!"]


@pytest.mark.parametrize(
    ("name", "title"),
    [("Super_Bowl_50.txt", "Super Bowl 50"), ("000_3ff9e896d4582ee2.txt", ""), ("dir/solar-energy.md", "solar energy")],
)
def test_title_from_file_name(name: str, title: str) -> None:
    assert make_document(name, "Body text.").title == title


def test_title_and_lead_sentence() -> None:
    document = make_document("a.md", "# Basra Today\n\nThe city of Basra opened a library. It is large.\n")
    assert document.title == "Basra Today"
    assert document.lead == "The city of Basra opened a library."
