"""Take docs/screenshot.png: launch the chat, ask a question in a real browser, capture it.

Needs Debian's chromium (`apt-get install chromium`) and `pip install playwright`;
neither is a dependency of the project.

Usage:
    .venv/bin/python scripts/screenshot.py [--question "..."]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from playwright.sync_api import sync_playwright

import qa
from qa.app import CSS, build_app

ROOT = Path(__file__).resolve().parent.parent
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--question", default="Who directs the Basra Cultural Center?")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    index = qa.ensure_index(ROOT / "embeddings", ROOT / "seeds")
    demo = build_app(index)
    demo.launch(server_name="127.0.0.1", server_port=7869, prevent_thread_lock=True, css=CSS, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto("http://127.0.0.1:7869/")
            page.get_by_placeholder("Ask a question about the articles…").fill(args.question)
            page.keyboard.press("Enter")
            page.get_by_text("Quoting").first.wait_for(timeout=120_000)
            page.wait_for_timeout(1500)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        demo.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
