"""A file name that reorders or hides text is shown escaped everywhere a person reads it; its real name stays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
from qa.cli import format_answer
from qa.cli.output import say
from qa.web.pane import source_html
from qa.web.sourceview import source_view

TRICK = "\u202egnp.exe.txt"


def test_a_right_to_left_override_in_a_name_is_escaped_in_citation_pane_and_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {TRICK: "The lighthouse keeper logs every passing ship."})
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), settings=qa.Settings(threshold=-1))
    answer = index.answer("Who logs every passing ship?")
    quote = answer.quotes[0]
    # The program-facing name is the real one (it opens the file); what is shown is escaped.
    assert quote.source == TRICK and (corpus / quote.source).is_file()
    assert "\\u202egnp.exe.txt" in quote.citation and "\u202e" not in quote.citation
    assert "\u202e" not in format_answer(answer)
    pane = source_html(source_view(index, quote))
    # The pane's data attribute keeps the real name for the page's script to ask for it again;
    # nothing shown holds the character.
    shown = re.sub(r'data-source="[^"]*"', "", pane)
    assert "\u202e" not in shown and "<code>\\u202egnp.exe.txt</code>" in shown
    say(f"skipped {TRICK}: unreadable")
    assert capsys.readouterr().err == "skipped \\u202egnp.exe.txt: unreadable\n"
