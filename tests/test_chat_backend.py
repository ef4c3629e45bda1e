"""The chat's backend without a browser: rendering, errors and refresh after edits (fake embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa import app


@pytest.fixture
def backend(fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch) -> app.ChatBackend:
    monkeypatch.setattr(app, "CHANGE_CHECK_INTERVAL", 0.0)
    return app.ChatBackend(fake_index)


def test_respond_appends_question_and_quoted_answer(backend: app.ChatBackend) -> None:
    history, box, sources = backend.respond("Who trains apprentices in slow fermentation?", [])
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    reply = history[1]["content"]
    assert "bakery.md ¶3 (line 5)`" in reply and "\n> " in reply and "<mark>" in reply
    assert "bakery.md" in sources and "¶3, line 5" in sources


def test_respond_turns_errors_into_friendly_messages(backend: app.ChatBackend) -> None:
    history, _, _ = backend.respond("   ", [])
    assert history[-1]["content"].startswith("⚠️") and "empty" in history[-1]["content"]


def test_chat_picks_up_edited_articles(backend: app.ChatBackend, corpus: Path) -> None:
    (corpus / "glacier.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.", encoding="utf-8")
    data = backend.ask("largest glacier in the Alps", 1)
    assert data["quotes"][0]["source"] == "glacier.txt"
    assert not backend.index.changes()


def test_abstaining_answer_is_marked(backend: app.ChatBackend) -> None:
    history, _, sources = backend.respond("quantum chromodynamics lattice gauge", [])
    assert "probably not an answer" in history[-1]["content"]
    assert "Closest (probably not an answer)" in sources


def test_default_citation_label_is_relative_to_the_working_folder(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes import FakeEmbedder

    monkeypatch.chdir(tmp_path)
    index = qa.build_index(corpus.resolve(), tmp_path / "i", embedder=FakeEmbedder())
    assert index.search("Danube", k=1)[0].citation == "corpus/nested/rivers.txt ¶1 (line 1)"
