"""The chat page in a real browser (Debian's chromium driven by Playwright): status line and answers."""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder
from markdown_it import MarkdownIt
from playwright.sync_api import Page, expect, sync_playwright
from support.browser import CHROMIUM, FLAGS, ask
from workers import SlowEmbedder, article

import qa
from qa.text.titles import readable_title
from qa.web.server import start


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
    running = start(live)
    try:
        page.goto(f"{running.url}/")
        expect(page.get_by_text("Up to date: 6 paragraphs.")).to_be_visible(timeout=30_000)
        for number in range(12):
            (corpus / f"town_{number}.txt").write_text(article(number, 0), encoding="utf-8")
        live.start()
        expect(page.get_by_text("Updating (")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Up to date: 66 paragraphs.")).to_be_visible(timeout=120_000)
        page.get_by_placeholder("Ask a question about the articles…").fill("bridge7 repainted")
        page.keyboard.press("Enter")
        expect(page.locator(".qa-cite").first).to_contain_text("town_7.txt ¶3 (line 5)", timeout=60_000)
        # What the person saw, kept in the test's folder for looking at.
        page.screenshot(path=str(tmp_path / "chat-after-update.png"), full_page=True)
    finally:
        live.stop()
        running.stop()


# -- the chat on the seed articles, with the real model ---------------------------------------

MOSUL, BASRA, ISFAHAN = "000_3ff9e896d4582ee2.txt", "001_9dcbbab14ab930fe.txt", "004_87c802f936a4d6e3.txt"
#: A file whose name and text try to break out of the page: a backtick, HTML, Markdown.
HOSTILE = "we`ird <img src=x onerror=alert(1)> *name*.txt"
HOSTILE_TEXT = (
    "The hovercraft regatta on Lake Zorbul uses `code` spans, <b>bold tags</b> and "
    "[links](https://example.com/a_b) written out: https://example.com/x_y_z stays verbatim."
)


@pytest.fixture(scope="module")
def seeds_server(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Iterator[tuple[str, Path]]:
    """The chat over a copy of the seeds plus a hostile file, updating itself every 0.2 s."""
    from conftest import SEEDS

    root = tmp_path_factory.mktemp("chat")
    corpus = root / "seeds"
    shutil.copytree(SEEDS, corpus)
    (corpus / HOSTILE).write_text(HOSTILE_TEXT, encoding="utf-8")
    index = qa.build_index(corpus, root / "embeddings", embedder=real_embedder, label="seeds")  # type: ignore[arg-type]
    live = qa.LiveIndex(root / "embeddings", corpus, index=index, embedder=real_embedder, interval=0.2)  # type: ignore[arg-type]
    live.start()
    running = start(live)
    try:
        yield f"{running.url}/", corpus
    finally:
        live.stop()
        running.stop()


def line_of(corpus: Path, source: str, number: int) -> str:
    """Line ``number`` of a seed file (one paragraph per line)."""
    return (corpus / source).read_text(encoding="utf-8").split("\n")[number - 1]


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS ``rgb(...)``/``rgba(...)`` colours."""

    def luminance(colour: str) -> float:
        values = [float(v) for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
        linear = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in values]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.model
def test_citation_opens_the_article_and_follow_ups_and_filters_work(seeds_server: tuple[str, Path], page: Page) -> None:
    url, corpus = seeds_server
    page.goto(url)
    expect(page.locator("#qa-status")).to_contain_text("files", timeout=30_000)
    turn = ask(page, "What kinds of aid have Mosul NGOs sent to the Palestinian territories?")
    expect(turn.locator(".qa-cite").first).to_contain_text(f"{MOSUL} ¶5 (line 5)")
    # 2. The citation opens the article beside the chat, the quoted paragraph marked and in view.
    turn.locator(".qa-cite").first.click()
    pane = page.locator("#qa-source")
    expect(pane.locator(".qa-para").first).to_be_in_viewport(timeout=10_000)
    expect(pane.locator(".qa-source-title")).to_have_text(readable_title(MOSUL, (corpus / MOSUL).read_text("utf-8")))
    pieces = pane.locator(".qa-para").all_inner_texts()
    assert "\n".join(pieces) == line_of(corpus, MOSUL, 5)
    expect(pane.locator("#qa-line-5 mark.qa-answer")).to_have_count(1)
    expect(pane.locator(".qa-lno").first).to_have_text("1")
    # 3. A follow-up keeps the subject and changes the place.
    follow = ask(page, "and in Isfahan?")
    expect(follow.locator(".qa-searched-input")).to_have_value(re.compile("Isfahan.+aid"))
    # The Isfahan paragraph on aid is among the quotes (the Mosul one, from the same template
    # and closer in its other words, may lead on this tiny corpus).
    expect(follow.locator(".qa-quote .qa-cite").filter(has_text=f"{ISFAHAN} ¶3 (line 3)")).to_have_count(1)
    # The search can be edited and run again, as written.
    follow.locator(".qa-searched-input").fill("Basra-Palestine Friendship Library")
    follow.get_by_role("button", name="Search again").click()
    rerun = page.locator(".qa-turn").nth(2)
    expect(rerun.locator(".qa-cite").first).to_contain_text(f"{BASRA} ¶4 (line 4)", timeout=60_000)
    # 4. A filter limits the search to one file.
    page.locator("#qa-filter input").click()
    page.locator("#qa-filter input").fill(BASRA)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    # The choice shows as a chip in the box before the question is asked.
    expect(page.locator("#qa-filter .token")).to_contain_text(BASRA)
    limited = ask(page, "What kind of aid is sent to Gaza?")
    expect(limited.locator(".qa-scope")).to_contain_text(BASRA)
    cites = limited.locator(".qa-cite").all_text_contents()
    assert cites and all(BASRA in c for c in cites)


@pytest.mark.model
def test_copy_export_examples_and_accessible_names(seeds_server: tuple[str, Path], page: Page) -> None:
    url, corpus = seeds_server
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page.goto(url)
    # The examples come from the articles served: the name each article repeats most, and
    # only questions the index answers. Clicking one asks it.
    examples = page.locator("#qa-examples button")
    expect(examples).to_have_count(3)
    expect(examples.first).to_have_text("What do the articles say about Mosul-Palestine Cultural Bridge?")
    examples.first.click()
    first = page.locator(".qa-turn").first
    expect(first.locator(".qa-cite").first).to_contain_text(MOSUL, timeout=60_000)
    expect(first.locator(".qa-not-found")).to_have_count(0)
    turn = ask(page, "Who directs the Basra Cultural Center?")
    expect(turn.locator(".qa-cite").first).to_contain_text(f"{BASRA} ¶3 (line 3)", timeout=60_000)
    # Only the answering sentence is marked, and it is the director's.
    shown = turn.locator(".qa-answer-block > .qa-quote").first
    expect(shown.locator("mark.qa-answer")).to_have_count(1)
    expect(shown.locator("mark.qa-answer")).to_contain_text("director of the Basra Cultural Center")
    # Light mode: the highlight keeps a contrast of 4.5:1 or better too.
    colours = shown.locator("mark.qa-answer").evaluate(
        "m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]"
    )
    assert contrast(*colours) >= 4.5, colours
    # Copy gives the verbatim quote and its citation as plain text.
    turn.get_by_role("button", name="Copy quote").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert line_of(corpus, BASRA, 3) in copied and f"seeds/{BASRA} ¶3 (line 3)" in copied
    assert "<mark>" not in copied and "\\" not in copied
    # Export gives the conversation as Markdown.
    with page.expect_download() as download:
        page.locator("#qa-export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    shown = html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt().render(exported)))
    assert "Who directs the Basra Cultural Center?" in shown and f"seeds/{BASRA} ¶3 (line 3)" in shown
    assert line_of(corpus, BASRA, 3) in shown
    # "More passages" stays open while its quotes are voted on (the page is redrawn).
    more = turn.locator("details.qa-more")
    more.locator("summary").click()
    more.get_by_role("button", name="Wrong quote").first.click()
    expect(more.get_by_role("button", name="Wrong quote").first).to_have_attribute("aria-pressed", "true")
    assert more.evaluate("d => d.open")
    # The question box and the send button have accessible names.
    expect(page.get_by_role("textbox", name="Your question")).to_be_visible()
    expect(page.get_by_role("button", name="Ask")).to_be_visible()


@pytest.mark.model
def test_edited_file_marks_the_earlier_answer(
    seeds_server: tuple[str, Path], page: Page, request: pytest.FixtureRequest
) -> None:
    url, corpus = seeds_server
    page.goto(url)
    turn = ask(page, "What library was established in Basra?")
    expect(turn.locator(".qa-cite").first).to_contain_text(f"{BASRA} ¶4")
    expect(turn.locator(".qa-stale")).to_have_count(0)
    # 5. The file changes on disk: the live index follows, and the answer gets its badge.
    path = corpus / BASRA
    original = path.read_text(encoding="utf-8")
    lines = original.split("\n")
    lines[3] = lines[3].replace("extensive collection", "large collection")
    path.write_text("\n".join(lines), encoding="utf-8")
    # The seeds as they were afterwards, for the tests after this one (and the README screenshot).
    request.addfinalizer(lambda: path.write_text(original, encoding="utf-8"))
    badge = turn.locator(".qa-answer-block > .qa-quote .qa-stale").first
    expect(badge).to_contain_text("Changed since this answer", timeout=30_000)
    badge.get_by_role("button", name="ask again").click()
    again = page.locator(".qa-turn").nth(1)
    expect(again.locator(".qa-text").first).to_contain_text("large collection", timeout=60_000)


@pytest.mark.model
def test_dark_mode_contrast_and_hostile_file_names(seeds_server: tuple[str, Path], page: Page) -> None:
    url, corpus = seeds_server
    # 6. Dark mode: the highlights keep a contrast of 4.5:1 or better.
    page.goto(url + "?__theme=dark")
    turn = ask(page, "Who directs the Basra Cultural Center?")
    mark = turn.locator("mark.qa-answer").first
    expect(mark).to_be_visible()
    assert page.evaluate("document.body.classList.contains('dark')")
    colours = mark.evaluate("m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]")
    assert contrast(*colours) >= 4.5, colours
    turn.locator(".qa-cite").first.click()
    para = page.locator("#qa-source .qa-para").first
    expect(para).to_be_visible()
    colours = para.evaluate("m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]")
    assert contrast(*colours) >= 4.5, colours
    # 7. A file name with a backtick and HTML, and text with Markdown, show as text.
    hostile = ask(page, "Which hovercraft regatta is on Lake Zorbul?")
    cite = hostile.locator(".qa-cite").first
    expect(cite).to_contain_text(HOSTILE)
    expect(hostile.locator(".qa-text").first).to_have_text(HOSTILE_TEXT)
    assert page.locator("#qa-chat img, #qa-source img, #qa-chat b, #qa-chat a[href]").count() == 0
    cite.click()
    expect(page.locator("#qa-source .qa-source-file")).to_contain_text(HOSTILE)
    expect(page.locator("#qa-source .qa-para").first).to_have_text(HOSTILE_TEXT)
    assert page.locator("#qa-source img, #qa-source b").count() == 0
    # What the person saw, kept for looking at: $QA_SCREENSHOTS (the README's comes from here) or the test's folder.
    page.goto(url)
    turn = ask(page, "Who directs the Basra Cultural Center?")
    turn.locator(".qa-cite").first.click()
    expect(page.locator("#qa-source .qa-para").first).to_be_in_viewport()
    # The whole page from its top (the status line too); the pane keeps its own scroll.
    page.evaluate("window.scrollTo(0, 0)")
    shots = Path(os.environ.get("QA_SCREENSHOTS") or corpus.parent)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "screenshot.png"))


@pytest.mark.model
def test_pdf_citation_shows_the_page_with_the_quoted_lines_marked(
    tmp_path: Path, page: Page, real_embedder: object
) -> None:
    import io

    from conftest import ROOT
    from PIL import Image

    corpus = Path(shutil.copytree(ROOT / "tests" / "data" / "mixed", tmp_path / "mixed"))
    index = qa.build_index(corpus, tmp_path / "embeddings", embedder=real_embedder, label="mixed")  # type: ignore[arg-type]
    running = start(index)
    try:
        page.goto(f"{running.url}/")
        turn = ask(page, "How many volunteers cleaned the Fresnel lens?")
        expect(turn.locator(".qa-cite").first).to_contain_text("mixed/report.pdf p. 2 ¶2")
        turn.locator(".qa-cite").first.click()
        pane = page.locator("#qa-source")
        # Page 2 of the PDF, drawn by the server and sent as data: no file is served by path.
        image = pane.locator('.qa-page[data-page="2"] img.qa-page-image')
        expect(image).to_be_visible(timeout=10_000)
        assert image.get_attribute("src").startswith("data:image/png;base64,")  # type: ignore[union-attr]
        page.wait_for_function("document.querySelector('#qa-source img.qa-page-image').naturalWidth > 0")
        expect(pane.locator(".qa-source-about")).to_contain_text("section “The lens”")
        boxes = pane.locator(".qa-box-quote")
        # One box per line of the quoted paragraph, in view, on the page image.
        expect(boxes).to_have_count(6)
        expect(boxes.first).to_be_in_viewport()
        frame = image.bounding_box()
        assert frame is not None
        rects = [boxes.nth(n).bounding_box() for n in range(6)]
        for rect in rects:
            assert rect is not None
            assert frame["x"] <= rect["x"] and rect["x"] + rect["width"] <= frame["x"] + frame["width"] + 1
            assert frame["y"] <= rect["y"] and rect["y"] + rect["height"] <= frame["y"] + frame["height"] + 1
        # Full lines but the last, which ends short.
        assert all(r is not None and r["width"] > 0.5 * frame["width"] for r in rects[:-1])
        tops = [r["y"] for r in rects if r is not None]
        assert tops == sorted(tops) and frame["y"] < tops[0] < frame["y"] + 0.35 * frame["height"]
        # Under each box there is text on the rendered page: dark pixels in a light page.
        for rect in rects:
            assert rect is not None
            shot = Image.open(io.BytesIO(page.screenshot(clip=rect))).convert("L")
            dark = sum(1 for value in shot.getdata() if value < 170)
            assert dark > 0.02 * shot.width * shot.height, rect
        # The gap between the heading and the paragraph is not marked: the box above the first line is clear.
        above = {**rects[0], "y": rects[0]["y"] - rects[0]["height"] * 2.2}  # type: ignore[index]
        shot = Image.open(io.BytesIO(page.screenshot(clip=above))).convert("RGB")
        assert not any(b > r + 30 for r, _, b in shot.getdata()), "nothing above the paragraph is marked"
        shots = Path(os.environ.get("QA_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "screenshot-pdf.png"))
    finally:
        running.stop()
