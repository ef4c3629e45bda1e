"""Driving the chat page in Debian's chromium: where the browser is, how it is started, asking a question."""

from __future__ import annotations

import shutil

from playwright.sync_api import Locator, Page, expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync", "--no-first-run"]


def ask(page: Page, question: str) -> Locator:
    """Type a question, send it, and return the new turn once it is answered."""
    # The box opens once the person's saved conversation is on the page.
    expect(page.get_by_label("Your question")).to_be_editable(timeout=30_000)
    turns = page.locator(".qa-turn").count()
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask").click()
    turn = page.locator(".qa-turn").nth(turns)
    # The question shows at once, before its answer.
    expect(turn.locator(".qa-question p")).to_have_text(question, timeout=10_000)
    expect(turn.locator(".qa-message")).to_be_visible(timeout=60_000)
    return turn
