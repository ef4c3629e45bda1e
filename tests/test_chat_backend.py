"""The chat's backend without a browser: rendering, errors and refresh after edits (fake embedder)."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pytest

import qa
from qa import app
from qa.chat import Turn


@pytest.fixture
def backend(fake_index: qa.Index) -> app.ChatBackend:
    return app.ChatBackend(qa.LiveIndex(fake_index.folder, index=fake_index, interval=0.05))


def ask(backend: app.ChatBackend, question: str, turns: list[Turn] | None = None) -> tuple[list[Turn], str]:
    """Submit a question the way the page does: show it, then answer it."""
    turns, page, box = backend.start(question, turns or [], [], {})
    assert box == "" and "qa-searching" in page and html.escape(question) in page
    turns, page, _export = backend.finish(turns, {})
    assert isinstance(page, str) and "qa-searching" not in page
    return turns, page


def test_question_shows_at_once_then_its_quoted_answer(backend: app.ChatBackend) -> None:
    turns, page = ask(backend, "Who trains apprentices in slow fermentation?")
    assert turns[-1].answer is not None and turns[-1].answer.found
    assert "bakery.md ¶3 (line 5)" in page and "<blockquote" in page and "qa-answer" in page


def test_empty_question_warns_and_keeps_the_box(backend: app.ChatBackend) -> None:
    turns, _page, box = backend.start("   ", [], [], {})
    assert turns == [] and box == "   "


def test_follow_up_is_searched_with_the_previous_subject(backend: app.ChatBackend) -> None:
    turns, _ = ask(backend, "Where does the Danube river flow?")
    turns, page = ask(backend, "and the Rhine?", turns)
    assert turns[-1].searched != "and the Rhine?" and "Rhine" in turns[-1].searched
    assert 'value="' + html.escape(turns[-1].searched) + '"' in page


def test_citation_click_opens_the_source_pane(backend: app.ChatBackend, corpus: Path) -> None:
    turns, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    event = {"action": "cite", "turn": 0, "quote": "q1"}
    turns, _votes, _page, pane, visible = backend.act(turns, {}, event)
    assert visible and pane is not None
    quote = turns[0].quote("q1")
    assert quote is not None and quote.title
    assert 'class="qa-para"' in pane and html.escape(quote.title) in pane
    assert pane.count("<tr ") == (corpus / quote.source).read_text(encoding="utf-8").count("\n") + 1


def test_citation_of_a_further_passage_opens_that_passage(backend: app.ChatBackend) -> None:
    turns, page = ask(backend, "Who trains apprentices in slow fermentation?")
    answer = turns[0].answer
    assert answer is not None and answer.more
    last = answer.more[-1]
    assert f'data-quote="m{last.rank}"' in page
    _, _, _, pane, _ = backend.act(turns, {}, {"action": "cite", "turn": 0, "quote": f"m{last.rank}"})
    assert pane is not None and html.escape(last.text.split("\n")[0]) in pane
    assert f"cited as <code>{html.escape(last.citation)}</code>" in pane


def test_vote_is_recorded_beside_the_index(backend: app.ChatBackend) -> None:
    turns, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    turns, votes, page, _, _ = backend.act(turns, {}, {"action": "vote", "turn": 0, "quote": "q1", "vote": "down"})
    assert votes == {(0, "q1"): "down"} and 'aria-pressed="true"' in page
    lines = (backend.live.folder / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["vote"] == "down" and record["source"] == "bakery.md" and record["question"].startswith("Who trains")


def test_bad_events_change_nothing(backend: app.ChatBackend) -> None:
    turns, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    for event in (
        {"action": "cite", "turn": 7, "quote": "q1"},
        {"action": "cite", "turn": 0, "quote": "q9"},
        {"action": "vote", "turn": 0, "quote": "q1", "vote": "maybe"},
        {"action": "nonsense"},
        {},
    ):
        after, votes, _, pane, visible = backend.act(turns, {}, event)
        assert after == turns and votes == {} and pane is None and not visible


def test_reask_and_edited_search_add_a_pending_turn(backend: app.ChatBackend) -> None:
    turns, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    after, *_ = backend.act(turns, {}, {"action": "rerun", "turn": 0, "query": "Danube river"})
    assert after[-1].pending and after[-1].searched == "Danube river"
    done, _page, _ = backend.finish(after, {})
    assert done[-1].answer is not None and done[-1].answer.quotes[0].source == "nested/rivers.txt"


def test_export_holds_every_quote_and_citation(backend: app.ChatBackend) -> None:
    turns, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    _, _, path = backend.finish([*turns, Turn("Danube river")], {})
    text = Path(path).read_text(encoding="utf-8")
    assert "## Who trains apprentices in slow fermentation?" in text and "## Danube river" in text
    for turn in turns:
        for quote in turn.quotes():
            assert quote.citation in text
            # Block-quoted line by line: each line of the quote is in the file verbatim.
            assert all(f"> {line}" in text for line in quote.text.split("\n"))


def test_chat_picks_up_edited_articles_in_the_background(backend: app.ChatBackend, corpus: Path) -> None:
    before = backend.index.generation
    assert "Up to date: 7 paragraphs" in backend.status_html()
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
    assert "Up to date: 8 paragraphs" in backend.status_html()


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
    assert "the disk went away" in backend.status_html()
    assert sum("index update failed" in r.message for r in caplog.records) == 1
    # Questions are still answered from the last good state.
    assert backend.ask("Etna volcano", 1)["quotes"][0]["source"] == "volcano.txt"


def test_abstaining_answer_is_marked_and_not_highlighted(backend: app.ChatBackend) -> None:
    _turns, page = ask(backend, "quantum chromodynamics lattice gauge")
    assert "probably not an answer" in page and "qa-not-found" in page
    assert '<mark class="qa-answer">' not in page


def test_badge_appears_when_a_quoted_file_changes(backend: app.ChatBackend, corpus: Path) -> None:
    turns, page = ask(backend, "Who trains apprentices in slow fermentation?")
    assert "Changed since this answer" not in page
    status, drawn, _, seen = backend.tick(turns, {}, app.Seen())
    assert "Up to date" in status
    quote = turns[0].quote("q1")
    assert quote is not None
    path = corpus / quote.source
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA new closing paragraph.", encoding="utf-8")
    backend.live.check()
    _status, drawn, _, seen = backend.tick(turns, {}, seen)
    assert isinstance(drawn, str) and "Changed since this answer" in drawn and 'data-action="reask"' in drawn
    assert (0, "q1") in seen.stale


def test_default_citation_label_is_relative_to_the_working_folder(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes import FakeEmbedder

    monkeypatch.chdir(tmp_path)
    index = qa.build_index(corpus.resolve(), tmp_path / "i", embedder=FakeEmbedder())
    assert index.search("Danube", k=1)[0].citation == "corpus/nested/rivers.txt ¶1 (line 1)"
