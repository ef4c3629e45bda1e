"""A database damaged under a running server: every request gets the normal answer shape naming the damage."""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

import httpx
import pytest
from conftest import serving
from fakes import FakeEmbedder
from workers import article

import qa
from qa.web import backend as web
from qa.web.conversation import Conversation


@pytest.fixture
def damaged(tmp_path: Path) -> qa.LiveIndex:
    """A live index whose database is cut short after it was opened (larger than SQLite's page cache)."""
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for number in range(300):
        (corpus / f"article_{number}.txt").write_text(article(number, 0), encoding="utf-8")
    live = qa.LiveIndex(folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()), interval=3600)
    live.current()
    os.truncate(folder / "index.db", 8192)
    return live


def test_every_api_request_gets_the_answer_shape_with_the_damage_named(
    damaged: qa.LiveIndex, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), serving(damaged) as base:
        replies = [
            httpx.post(f"{base}/api/v1/answer", json={"question": q}, timeout=60)
            for q in ("Which museum keeps maps?", "What did the harbour record?", "Which museum keeps maps?")
        ]
    for reply in replies:
        body = reply.json()
        assert reply.status_code == 503, body
        # The answer's shape, naming the part and what to run, and no path of the server.
        assert body["found"] is False and body["quotes"] == [] and body["question"].startswith("W")
        assert body["error"] == (
            "the index is damaged (its database); run `qa index --check` on the server to repair it"
        )
        assert body["message"] == body["error"] and "/" not in body["error"].replace("`qa index --check`", "")
    # Logged once, and no traceback for any request.
    damage = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(damage) == 1 and not any(r.exc_info for r in caplog.records)


def test_the_chat_shows_the_damage_in_its_answer(damaged: qa.LiveIndex) -> None:
    backend = web.ChatBackend(damaged)
    try:
        reply = backend.ask("Which museum keeps maps?")
        assert reply["found"] is False and reply["quotes"] == [] and "index.db is damaged" in reply["error"]
        conversation = Conversation()
        backend.start("Which museum keeps maps?", conversation, [])
        page, _export, _listing = backend.finish(conversation)
        assert html.escape("run `qa index --check`") in page or "qa index --check" in page
        assert "Traceback" not in page
    finally:
        backend.close()
