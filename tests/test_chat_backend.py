"""The chat's backend without a browser: rendering, errors and refresh after edits (fake embedder)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import qa
from qa import app


@pytest.fixture
def backend(fake_index: qa.Index) -> app.ChatBackend:
    return app.ChatBackend(qa.LiveIndex(fake_index.folder, index=fake_index, interval=0.05))


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


def test_chat_picks_up_edited_articles_in_the_background(backend: app.ChatBackend, corpus: Path) -> None:
    before = backend.index.generation
    assert "Up to date: 7 paragraphs" in backend.status_markdown()
    backend.live.start()
    try:
        (corpus / "glacier.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.", encoding="utf-8")
        deadline = time.monotonic() + 30
        while backend.index.generation == before and time.monotonic() < deadline:
            # Questions keep being answered from the last committed state meanwhile.
            assert backend.ask("Etna volcano", 1)["quotes"][0]["source"] == "volcano.txt"
            time.sleep(0.02)
    finally:
        backend.live.stop()
    data = backend.ask("largest glacier in the Alps", 1)
    assert data["quotes"][0]["source"] == "glacier.txt"
    assert not backend.index.changes()
    assert "Up to date: 8 paragraphs" in backend.status_markdown()


def test_failed_update_is_reported_once_and_retried_with_back_off(
    backend: app.ChatBackend, corpus: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from qa import live

    calls: list[int] = []

    def broken(*args: object, **kwargs: object) -> qa.Index:
        calls.append(1)
        raise qa.CorpusError("the disk went away")

    monkeypatch.setattr(live, "build_index", broken)
    (corpus / "glacier.txt").write_text("Ice.", encoding="utf-8")
    for _ in range(5):
        backend.live.check()
    assert len(calls) == 1, "retried before its back-off ran out"
    status = backend.live.status()
    assert status.state == "failed" and status.retry_in > 1
    assert "the disk went away" in backend.status_markdown()
    assert sum("index update failed" in r.message for r in caplog.records) == 1
    # Questions are still answered from the last good state.
    assert backend.ask("Etna volcano", 1)["quotes"][0]["source"] == "volcano.txt"


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
