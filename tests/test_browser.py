"""The chat page in a real browser (Debian's chromium driven by Playwright): status line and answers."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder
from playwright.sync_api import Page, expect, sync_playwright
from workers import SlowEmbedder, article

import qa
from qa.app import CSS, build_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_page_shows_a_background_update_then_answers_from_it(tmp_path: Path, page: Page) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), settings=qa.Settings(threshold=0.2))
    # A slow model, so that the update is still running when the page looks at it.
    live = qa.LiveIndex(tmp_path / "index", corpus, embedder=SlowEmbedder(0.05), index=index, interval=0.2)
    demo = build_app(live)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.get_by_text("Up to date: 7 paragraphs.")).to_be_visible(timeout=30_000)
        for number in range(12):
            (corpus / f"town_{number}.txt").write_text(article(number, 0), encoding="utf-8")
        live.start()
        expect(page.get_by_text("Updating (")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Up to date: 67 paragraphs.")).to_be_visible(timeout=120_000)
        page.get_by_placeholder("Ask a question about the articles…").fill("bridge7 repainted")
        page.keyboard.press("Enter")
        expect(page.get_by_text("town_7.txt ¶3 (line 5)").first).to_be_visible(timeout=60_000)
        # What the person saw, kept for looking at: $QA_SCREENSHOTS or the test's folder.
        shots = Path(os.environ.get("QA_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "chat-after-update.png"), full_page=True)
    finally:
        live.stop()
        demo.close()
