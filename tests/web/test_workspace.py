"""The workspace in a real browser (Debian's chromium): documents added and removed from the page,
conversations kept across reloads, the PDF viewer, citation previews, the phone layout, votes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from support.browser import CHROMIUM, FLAGS, ask
from support.samples import MIXED, lines_pdf

import qa
from qa.web.access import Access
from qa.web.server import Running, start
from qa.web.uploads import UploadLimits

pytestmark = pytest.mark.model

#: Upload limits of the server under test: small, so that "too large" is quick to show.
LIMITS = UploadLimits(max_file_mb=0.5, max_files=4)

FERRY_FACT = "The Quarlton ferry carries exactly 417 bicycles across the Velmar estuary every Tuesday morning."
PDF_FACT = "The Orbisham observatory dome was repainted cobalt blue by nineteen apprentices in 1987."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Iterator[tuple[Running, Path, Path]]:
    """The chat over a copy of the mixed sample, updating itself, documents changeable from the page."""
    root = tmp_path_factory.mktemp("workspace")
    corpus = Path(shutil.copytree(MIXED, root / "mixed"))
    index = qa.build_index(corpus, root / "index", embedder=real_embedder, label="mixed")  # type: ignore[arg-type]
    live = qa.LiveIndex(root / "index", corpus, index=index, interval=0.3)
    live.start()
    running = start(live, access=Access.decide(read_only=False, open_network=False, limits=LIMITS))
    try:
        yield running, corpus, root / "index"
    finally:
        running.stop()
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new browser profile (its own cookie, so its own conversations); confirmations are accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    # A prompt is answered by the test that expects it.
    opened.on("dialog", lambda dialog: dialog.accept() if dialog.type == "confirm" else None)
    try:
        yield opened
    finally:
        context.close()


def shots() -> Path:
    """Where screenshots go: ``$QA_SCREENSHOTS`` (``docs`` for the README's), else a temporary folder."""
    folder = Path(os.environ.get("QA_SCREENSHOTS") or tempfile.mkdtemp(prefix="qa-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload(page: Page, *files: Path) -> Locator:
    """Add files through the page's file input; the panel's report of them."""
    page.locator("#qa-upload input[type=file]").set_input_files([str(f) for f in files])
    return page.locator("#qa-added")


def test_uploaded_text_and_pdf_are_answered_with_citations(
    served: tuple[Running, Path, Path], page: Page, tmp_path: Path
) -> None:
    running, corpus, _ = served
    text = tmp_path / "quarlton ferry.txt"
    text.write_text(f"Ferries of the estuary\n\n{FERRY_FACT}\n", encoding="utf-8")
    pdf = tmp_path / "orbisham.pdf"
    pdf.write_bytes(lines_pdf([[(11, 720, PDF_FACT)]]))
    page.goto(f"{running.url}/")
    expect(page.get_by_label("Your question")).to_be_editable(timeout=30_000)
    added = upload(page, text, pdf)
    # Each file's outcome in the panel, in the reader's words: written under uploads/, N paragraphs.
    expect(added).to_contain_text("added as uploads/quarlton ferry.txt: 2 paragraphs", timeout=60_000)
    expect(added).to_contain_text("added as uploads/orbisham.pdf: 1 paragraph")
    assert (corpus / "uploads" / "quarlton ferry.txt").read_text(encoding="utf-8").endswith(FERRY_FACT + "\n")
    # The documents list holds them, with their facts, and opens one in the source pane.
    row = page.locator('#qa-documents li.qa-doc[data-source="uploads/orbisham.pdf"]')
    expect(row).to_contain_text("PDF · 1 paragraph · 1 page")
    turn = ask(page, "How many bicycles does the Quarlton ferry carry?")
    expect(turn.locator(".qa-cite").first).to_contain_text("mixed/uploads/quarlton ferry.txt ¶2 (line 3)")
    expect(turn.locator(".qa-quote").first).to_contain_text(FERRY_FACT)
    turn = ask(page, "Who repainted the Orbisham observatory dome?")
    expect(turn.locator(".qa-cite").first).to_contain_text("mixed/uploads/orbisham.pdf p. 1 ¶1")
    # After a reload the conversation is still there, in the same order.
    page.reload()
    expect(page.locator(".qa-turn")).to_have_count(2, timeout=30_000)
    expect(page.locator(".qa-turn .qa-question").first).to_contain_text("Quarlton ferry")
    expect(page.locator(".qa-turn .qa-cite").first).to_contain_text("quarlton ferry.txt ¶2")
    page.get_by_placeholder("Search documents by name or title").fill("uploads")
    expect(page.locator("#qa-documents li.qa-doc")).to_have_count(2)
    upload(page, text)
    # The same bytes again: a duplicate, named, not a second copy.
    duplicate = "already in the corpus as uploads/quarlton ferry.txt"
    expect(page.locator("#qa-added")).to_contain_text(duplicate, timeout=30_000)
    assert not (corpus / "uploads" / "quarlton ferry (2).txt").exists()
    page.locator("#qa-sidebar").screenshot(path=str(shots() / "screenshot-documents.png"))


def test_refused_uploads_say_why(served: tuple[Running, Path, Path], page: Page, tmp_path: Path) -> None:
    running, corpus, _ = served
    page.goto(f"{running.url}/")
    expect(page.get_by_label("Your question")).to_be_editable(timeout=30_000)
    # Named .txt but a PNG inside: the type is checked by content, not only by the ending.
    disguised = tmp_path / "notes.txt"
    disguised.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    expect(upload(page, disguised)).to_contain_text("notes.txt — not added: not a text file", timeout=30_000)
    # Larger than this server's limit: refused before it is stored, with the limit said.
    big = tmp_path / "big.txt"
    big.write_text("word " * 200_000, encoding="utf-8")
    upload(page, big)
    expect(page.get_by_text("exceed the maximum allowed size")).to_be_visible(timeout=30_000)
    # A type the readers do not take: said in the panel, with what the corpus reads.
    program = tmp_path / "tool.exe"
    program.write_bytes(b"MZ" + bytes(100))
    expect(upload(page, program)).to_contain_text(
        "tool.exe — not added: unsupported type: .exe is not read; the corpus reads .txt", timeout=30_000
    )
    for name in ("notes.txt", "big.txt", "tool.exe"):
        assert not (corpus / "uploads" / name).exists()


def test_removing_a_document_marks_the_answers_that_quoted_it(
    served: tuple[Running, Path, Path], page: Page, tmp_path: Path
) -> None:
    running, corpus, index_folder = served
    note = tmp_path / "lantern note.md"
    note.write_text("# Lantern note\n\nThe brass lantern of Pellow Quay was lit by Hester Vane in 1899.\n", "utf-8")
    page.goto(f"{running.url}/")
    expect(page.get_by_label("Your question")).to_be_editable(timeout=30_000)
    expect(upload(page, note)).to_contain_text("uploads/lantern note.md: 1 paragraph", timeout=60_000)
    turn = ask(page, "Who lit the brass lantern of Pellow Quay?")
    expect(turn.locator(".qa-cite").first).to_contain_text("uploads/lantern note.md ¶1")
    expect(turn.locator(".qa-stale")).to_have_count(0)
    # Remove asks first (accepted here), moves the file to the trash beside the index.
    page.locator('#qa-documents button[data-action="remove"][data-source="uploads/lantern note.md"]').click()
    expect(page.locator("#qa-added")).to_contain_text("uploads/lantern note.md was removed", timeout=30_000)
    assert not (corpus / "uploads" / "lantern note.md").exists()
    # Kept in the trash under the time it was removed (UTC) and its name, byte for byte.
    [kept] = (index_folder / "trash").glob("*-lantern note.md")
    assert kept.read_bytes() == note.read_bytes()
    expect(page.locator('#qa-documents li.qa-doc[data-source="uploads/lantern note.md"]')).to_have_count(0)
    # The earlier answer now says its quote changed, and offers to ask again.
    expect(turn.locator(".qa-stale-turn")).to_contain_text("changed since this answer", timeout=30_000)
    expect(turn.locator(".qa-quote .qa-stale").first).to_contain_text("Changed since this answer")
    # Reopened later (a reload), the old answer keeps its notice.
    page.reload()
    reopened = page.locator(".qa-turn").first
    expect(reopened.locator(".qa-stale-turn")).to_contain_text("changed since this answer", timeout=30_000)


def test_a_declined_removal_keeps_the_document(served: tuple[Running, Path, Path], browser: Browser) -> None:
    running, corpus, _ = served
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.dismiss())
    try:
        page.goto(f"{running.url}/")
        page.locator('#qa-documents button[data-action="remove"][data-source="ferry.txt"]').click()
        page.wait_for_timeout(1500)
        assert (corpus / "ferry.txt").exists()
        expect(page.locator('#qa-documents li.qa-doc[data-source="ferry.txt"]')).to_have_count(1)
    finally:
        context.close()


def test_the_sidebar_reopens_renames_and_deletes_conversations(served: tuple[Running, Path, Path], page: Page) -> None:
    running, _, _ = served
    page.goto(f"{running.url}/")
    ask(page, "How many volunteers cleaned the Fresnel lens?")
    listed = page.locator("#qa-conversations li.qa-conv")
    expect(listed).to_have_count(1)
    # The title is the first question; the date and the number of questions beside it.
    expect(listed.first).to_contain_text("How many volunteers cleaned the Fresnel lens?")
    expect(listed.first).to_contain_text("1 question")
    page.locator("#qa-new-conversation").click()
    expect(page.locator(".qa-turn")).to_have_count(0)
    ask(page, "Where does the tide mill stand?")
    expect(listed).to_have_count(2)
    # The earlier one reopens with its answer.
    listed.filter(has_text="Fresnel").locator('button[data-action="open"]').click()
    expect(page.locator(".qa-turn")).to_have_count(1)
    expect(page.locator(".qa-turn .qa-question")).to_contain_text("Fresnel lens")
    # Renamed through a prompt.
    page.once("dialog", lambda dialog: dialog.accept("Lighthouse questions"))
    listed.filter(has_text="Fresnel").locator('button[data-action="rename"]').click()
    expect(listed.filter(has_text="Lighthouse questions")).to_have_count(1)
    page.screenshot(path=str(shots() / "screenshot-conversations.png"))
    # A reload opens the conversation that was open, and lists both.
    page.reload()
    expect(page.locator(".qa-turn .qa-question")).to_contain_text("Fresnel lens", timeout=30_000)
    expect(listed).to_have_count(2)
    # Deleting the open one (confirmed) leaves a fresh conversation open.
    listed.filter(has_text="Lighthouse questions").locator('button[data-action="delete"]').click()
    expect(listed.filter(has_text="Lighthouse questions")).to_have_count(0)
    expect(page.locator(".qa-turn")).to_have_count(0)


def test_another_browser_sees_none_of_these_conversations(served: tuple[Running, Path, Path], browser: Browser) -> None:
    running, _, _ = served
    first = browser.new_context()
    second = browser.new_context()
    try:
        one = first.new_page()
        one.goto(f"{running.url}/")
        ask(one, "Who keeps the seed library?")
        other = second.new_page()
        other.goto(f"{running.url}/")
        expect(other.get_by_label("Your question")).to_be_editable(timeout=30_000)
        expect(other.locator(".qa-turn")).to_have_count(0)
        expect(other.locator("#qa-conversations")).not_to_contain_text("seed library")
    finally:
        first.close()
        second.close()


def test_pdf_viewer_pages_zoom_and_download(served: tuple[Running, Path, Path], page: Page) -> None:
    running, corpus, _ = served
    page.goto(f"{running.url}/")
    turn = ask(page, "How many volunteers cleaned the Fresnel lens?")
    turn.locator(".qa-cite").first.click()
    pane = page.locator("#qa-source")
    expect(pane.locator('.qa-page[data-page="2"] img.qa-page-image')).to_be_visible(timeout=10_000)
    expect(pane.locator(".qa-page-input")).to_have_value("2")
    # Sharp at the pane's width: the image has at least as many pixels as it is shown with.
    page.wait_for_function("document.querySelector('#qa-source img.qa-page-image').naturalWidth > 0")
    natural, shown = pane.locator("img.qa-page-image").evaluate("i => [i.naturalWidth, i.clientWidth]")
    assert natural >= shown * 1.5, (natural, shown)
    # Previous page: page 1, nothing marked, a way back to the quote; the page's text is selectable.
    pane.get_by_role("button", name="Previous page").click()
    expect(pane.locator('.qa-page[data-page="1"]')).to_be_visible(timeout=10_000)
    expect(pane.locator(".qa-box-quote")).to_have_count(0)
    expect(pane.get_by_role("button", name="Previous page")).to_be_disabled()
    expect(pane.locator(".qa-page-words")).to_contain_text("Kettle Point")
    assert pane.locator(".qa-page-words").evaluate("n => getComputedStyle(n).userSelect") != "none"
    pane.get_by_role("button", name="Back to the quote (p. 2)").click()
    expect(pane.locator('.qa-page[data-page="2"] .qa-box-quote').first).to_be_visible(timeout=10_000)
    # A page number typed in.
    pane.locator(".qa-page-input").fill("1")
    pane.locator(".qa-page-input").press("Enter")
    expect(pane.locator('.qa-page[data-page="1"]')).to_be_visible(timeout=10_000)
    # Zoom in twice, kept when the page changes; Fit goes back to the pane's width.
    frame = pane.locator(".qa-page-frame")
    width = frame.evaluate("f => f.getBoundingClientRect().width")
    pane.get_by_role("button", name="Zoom in").click()
    pane.get_by_role("button", name="Zoom in").click()
    expect(pane.locator(".qa-zoom-level")).to_have_text("150%")
    assert frame.evaluate("f => f.getBoundingClientRect().width") == pytest.approx(width * 1.5, rel=0.02)
    pane.get_by_role("button", name="Next page").click()
    expect(pane.locator('.qa-page[data-page="2"]')).to_be_visible(timeout=10_000)
    expect(pane.locator(".qa-zoom-level")).to_have_text("150%")
    pane.get_by_role("button", name="Fit the width").click()
    expect(pane.locator(".qa-zoom-level")).to_have_text("100%")
    page.screenshot(path=str(shots() / "screenshot-viewer.png"))
    # "Download original" gives the file's own bytes.
    with page.expect_download() as download:
        page.locator("#qa-download").click()
    assert Path(download.value.path()).read_bytes() == (corpus / "report.pdf").read_bytes()


def test_citation_preview_escape_and_focus(served: tuple[Running, Path, Path], page: Page) -> None:
    running, _, _ = served
    page.goto(f"{running.url}/")
    turn = ask(page, "How many volunteers cleaned the Fresnel lens?")
    cite = turn.locator(".qa-cite").first
    preview = turn.locator(".qa-preview").first
    expect(preview).to_be_hidden()
    # Hovering a citation shows the paragraph's first lines and its place, before any click.
    cite.hover()
    expect(preview).to_be_visible()
    expect(preview.locator(".qa-preview-text")).to_contain_text("The original Fresnel lens")
    expect(preview.locator(".qa-preview-place")).to_have_text("mixed/report.pdf p. 2 ¶2")
    page.mouse.move(0, 0)
    expect(preview).to_be_hidden()
    # And so does reaching it with the keyboard; it names its preview for screen readers.
    page.get_by_role("button", name="Copy quote").first.focus()
    page.keyboard.press("Shift+Tab")
    expect(cite).to_be_focused()
    expect(preview).to_be_visible()
    assert cite.get_attribute("aria-describedby") == preview.get_attribute("id")
    # Escape closes the source pane and puts the focus back on the citation that opened it.
    page.keyboard.press("Enter")
    expect(page.locator("#qa-source-pane")).to_be_visible(timeout=10_000)
    page.locator("#qa-source").click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    expect(page.locator("#qa-source-pane")).to_be_hidden()
    expect(cite).to_be_focused()
    # The close button does the same.
    cite.click()
    expect(page.locator("#qa-source-pane")).to_be_visible(timeout=10_000)
    page.locator("#qa-source-close").click()
    expect(page.locator("#qa-source-pane")).to_be_hidden()
    expect(cite).to_be_focused()


def test_votes_toggle_and_are_written_once(served: tuple[Running, Path, Path], page: Page) -> None:
    running, _, index_folder = served
    feedback = index_folder / "feedback.jsonl"

    def lines() -> list[dict[str, object]]:
        if not feedback.exists():
            return []
        return [json.loads(line) for line in feedback.read_text(encoding="utf-8").splitlines()]

    page.goto(f"{running.url}/")
    turn = ask(page, "Who keeps the bees on the rooftops of Larkfield?")
    before = len(lines())
    good = turn.get_by_role("button", name="Good quote").first
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    assert [v["vote"] for v in lines()[before:]] == ["up"]
    # The same vote again writes nothing.
    good.click()
    page.wait_for_timeout(1000)
    expect(good).to_have_attribute("aria-pressed", "true")
    assert [v["vote"] for v in lines()[before:]] == ["up"]
    # Changed to the other vote, then taken back.
    turn.get_by_role("button", name="Wrong quote").first.click()
    expect(turn.get_by_role("button", name="Wrong quote").first).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")
    turn.get_by_role("button", name="Take my vote back").first.click()
    expect(turn.get_by_role("button", name="Take my vote back")).to_have_count(0)
    expect(turn.get_by_role("button", name="Wrong quote").first).to_have_attribute("aria-pressed", "false")
    assert [v["vote"] for v in lines()[before:]] == ["up", "down", "none"]
    # Votes are kept with the conversation.
    page.reload()
    expect(page.locator(".qa-turn")).to_have_count(1, timeout=30_000)
    expect(page.locator('.qa-vote[aria-pressed="true"]')).to_have_count(0)


def test_phone_viewport(served: tuple[Running, Path, Path], browser: Browser) -> None:
    running, _, _ = served
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{running.url}/")
        # The sidebar starts closed on a phone: the chat is what shows.
        expect(page.get_by_label("Your question")).to_be_editable(timeout=30_000)
        expect(page.locator("#qa-sidebar")).not_to_have_class("open")
        turn = ask(page, "How many volunteers cleaned the Fresnel lens?")
        # After the answer, its first quote is in view.
        expect(turn.locator(".qa-quote").first).to_be_in_viewport(ratio=0.5)
        # Everything a finger taps is at least 40 px each way.
        small = page.evaluate(
            """() => [...document.querySelectorAll('button, input, a, textarea, select')]
              .filter(n => n.getClientRects().length && getComputedStyle(n).visibility !== 'hidden'
                && !n.closest('#qa-sidebar:not(.open) .sidebar-content') && n.type !== 'file')
              .map(n => [n.outerHTML.slice(0, 80), n.getBoundingClientRect().width, n.getBoundingClientRect().height])
              .filter(([, w, h]) => w < 40 || h < 40)"""
        )
        assert small == []
        # The source pane covers the screen, and closes with Escape back to the chat.
        turn.locator(".qa-cite").first.click()
        pane = page.locator("#qa-source-pane")
        expect(pane.locator("img.qa-page-image")).to_be_visible(timeout=10_000)
        box = pane.bounding_box()
        assert box is not None and (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        expect(page.locator("#qa-source-close")).to_be_in_viewport()
        page.keyboard.press("Escape")
        expect(pane).to_be_hidden()
        expect(turn.locator(".qa-cite").first).to_be_focused()
        turn.locator(".qa-cite").first.click()
        expect(pane.locator("img.qa-page-image")).to_be_visible(timeout=10_000)
        page.screenshot(path=str(shots() / "screenshot-phone.png"))
    finally:
        context.close()


def test_two_browsers_upload_at_once_and_an_upload_beside_qa_index(
    served: tuple[Running, Path, Path], browser: Browser, tmp_path: Path
) -> None:
    running, corpus, index_folder = served
    pages = []
    contexts = [browser.new_context(), browser.new_context()]
    try:
        for number, context in enumerate(contexts):
            page = context.new_page()
            page.goto(f"{running.url}/")
            expect(page.get_by_label("Your question")).to_be_editable(timeout=30_000)
            pages.append((page, tmp_path / f"parallel-{number}.txt"))
        for number, (_, path) in enumerate(pages):
            path.write_text(f"Parallel note {number}\n\nThe zelkova number {number} is {number * 7 + 3}.\n", "utf-8")
        # Both files chosen before either is reported; and `qa index` runs on the same folder meanwhile.
        indexing = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", str(corpus), "--out", str(index_folder), "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for page, path in pages:
            page.locator("#qa-upload input[type=file]").set_input_files(str(path))
        for page, path in pages:
            expect(page.locator("#qa-added")).to_contain_text(f"added as uploads/{path.name}", timeout=60_000)
        output, _ = indexing.communicate(timeout=300)
        assert indexing.returncode == 0, output
        for page, path in pages:
            assert (corpus / "uploads" / path.name).read_bytes() == path.read_bytes()
            # Nothing lost: each file's paragraphs are in the index, whoever wrote it last.
            row = page.locator(f'#qa-documents li.qa-doc[data-source="uploads/{path.name}"]')
            expect(row).to_contain_text("2 paragraphs", timeout=60_000)
        index = qa.load_index(index_folder)
        assert {p.source for p in index.passages_of("uploads/parallel-0.txt")} == {"uploads/parallel-0.txt"}
        assert len(index.passages_of("uploads/parallel-1.txt")) == 2
    finally:
        for context in contexts:
            context.close()
