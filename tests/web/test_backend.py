"""The chat's backend without a browser: rendering, errors and refresh after edits (fake embedder)."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

import qa
from qa.web import backend as web
from qa.web.conversation import Conversation, Notice, Turn


@pytest.fixture
def backend(fake_index: qa.Index) -> Iterator[web.ChatBackend]:
    chat_backend = web.ChatBackend(qa.LiveIndex(fake_index.folder, index=fake_index, interval=0.05))
    yield chat_backend
    chat_backend.close()


def ask(backend: web.ChatBackend, question: str, conversation: Conversation | None = None) -> tuple[Conversation, str]:
    """Submit a question the way the page does: show it, then answer it."""
    conversation = conversation or Conversation()
    page, box = backend.start(question, conversation, [])
    assert box == "" and "qa-searching" in page and html.escape(question) in page
    page, _export, _listing = backend.finish(conversation)
    assert isinstance(page, str) and "qa-searching" not in page
    return conversation, page


def turns_of(conversation: Conversation) -> tuple[Turn, ...]:
    return conversation.view()[0]


def test_question_shows_at_once_then_its_quoted_answer(backend: web.ChatBackend) -> None:
    conversation, page = ask(backend, "Who trains apprentices in slow fermentation?")
    answer = turns_of(conversation)[-1].answer
    assert answer is not None and answer.found
    assert "bakery.md ¶2 (line 5)" in page and "<blockquote" in page and "qa-answer" in page


def test_empty_or_huge_question_warns_and_keeps_the_box(backend: web.ChatBackend) -> None:
    conversation = Conversation()
    for text in ("   ", "x" * 2001):
        _page, box = backend.start(text, conversation, [])
        assert turns_of(conversation) == () and box == text


def test_follow_up_is_searched_with_the_previous_subject(backend: web.ChatBackend) -> None:
    conversation, _ = ask(backend, "Where does the Danube river flow?")
    conversation, page = ask(backend, "and the Rhine?", conversation)
    searched = turns_of(conversation)[-1].searched
    assert searched != "and the Rhine?" and "Rhine" in searched
    assert 'value="' + html.escape(searched) + '"' in page


def test_a_chain_of_follow_ups_stays_short(backend: web.ChatBackend) -> None:
    conversation, _ = ask(backend, "Where does the Danube river flow?")
    for river in ("Rhine", "Elbe", "Oder", "Volga", "Loire", "Po", "Tagus"):
        conversation, _ = ask(backend, f"and the {river}?", conversation)
        turn = turns_of(conversation)[-1]
        assert not turn.error and river in turn.searched and len(turn.searched) < 200


def test_questions_asked_while_one_is_searched_are_all_answered(backend: web.ChatBackend) -> None:
    conversation = Conversation()
    questions = ["Danube river", "Etna volcano", "slow fermentation", "Black Sea", "lava flows", "apprentices"]
    # Six pages' worth of submits and finishes on one session, interleaved on threads.
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda q: (backend.start(q, conversation, []), backend.finish(conversation)), questions))
    backend.finish(conversation)
    turns = turns_of(conversation)
    assert sorted(t.question for t in turns) == sorted(questions)
    assert all(t.answer is not None and not t.pending for t in turns)
    assert len({t.id for t in turns}) == len(turns)


def test_citation_click_opens_the_source_pane(backend: web.ChatBackend, corpus: Path) -> None:
    conversation, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    turn = turns_of(conversation)[0]
    _page, pane = backend.act(conversation, {"action": "cite", "turn": turn.id, "quote": "q1"})
    assert pane is not None
    quote = turn.quote("q1")
    assert quote is not None and quote.title
    assert 'class="qa-para"' in pane.html and html.escape(quote.title) in pane.html
    assert pane.html.count("<tr ") == (corpus / quote.source).read_text(encoding="utf-8").count("\n") + 1


def test_citation_of_a_further_passage_opens_that_passage(backend: web.ChatBackend) -> None:
    conversation, page = ask(backend, "Who trains apprentices in slow fermentation?")
    turn = turns_of(conversation)[0]
    assert turn.answer is not None and turn.answer.more
    last = turn.answer.more[-1]
    assert f'data-quote="m{last.rank}"' in page
    _, pane = backend.act(conversation, {"action": "cite", "turn": turn.id, "quote": f"m{last.rank}"})
    assert pane is not None and html.escape(last.text.split("\n")[0]) in pane.html
    assert f"cited as <code>{html.escape(last.citation)}</code>" in pane.html


def test_vote_is_recorded_beside_the_index(backend: web.ChatBackend) -> None:
    conversation, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    turn = turns_of(conversation)[0]
    page, _ = backend.act(conversation, {"action": "vote", "turn": turn.id, "quote": "q1", "vote": "down"})
    assert conversation.view()[1] == {(turn.id, "q1"): "down"} and 'aria-pressed="true"' in page
    lines = (backend.live.folder / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["vote"] == "down" and record["source"] == "bakery.md" and record["question"].startswith("Who trains")


def test_bad_events_change_nothing(backend: web.ChatBackend) -> None:
    conversation, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    before = conversation.view()
    for event in (
        {"action": "cite", "turn": 7, "quote": "q1"},
        {"action": "cite", "turn": 0, "quote": "q9"},
        {"action": "cite", "turn": 0, "quote": "q\u00b2"},
        {"action": "cite", "turn": "0", "quote": "q1"},
        {"action": "cite", "turn": True, "quote": "q1"},
        {"action": "vote", "turn": 0, "quote": "q1", "vote": "maybe"},
        {"action": "rerun", "turn": 0, "query": ["not", "text"]},
        {"action": "nonsense", "turn": 0},
        {},
        ["a", "list"],
        "text",
        None,
    ):
        _page, pane = backend.act(conversation, event)
        assert pane is None and conversation.view() == before


def test_reask_and_edited_search_add_a_pending_turn(backend: web.ChatBackend) -> None:
    conversation, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    backend.act(conversation, {"action": "rerun", "turn": 0, "query": "Danube river"})
    turn = turns_of(conversation)[-1]
    assert turn.pending and turn.searched == "Danube river" and turn.literal
    backend.finish(conversation)
    answer = turns_of(conversation)[-1].answer
    assert answer is not None and answer.quotes[0].source == "nested/rivers.txt"


def test_old_turns_drop_off_with_their_votes(backend: web.ChatBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.web import conversation as chat

    monkeypatch.setattr(chat, "MAX_TURNS", 3)
    conversation, _ = ask(backend, "Danube river")
    first = turns_of(conversation)[0]
    backend.act(conversation, {"action": "vote", "turn": first.id, "quote": "q1", "vote": "up"})
    for question in ("Etna volcano", "slow fermentation", "Black Sea"):
        conversation, _ = ask(backend, question, conversation)
    turns, votes, _ = conversation.view()
    assert [t.question for t in turns] == ["Etna volcano", "slow fermentation", "Black Sea"]
    assert votes == {} and conversation.turn(first.id) is None
    # A click on a turn that dropped off does nothing.
    assert backend.act(conversation, {"action": "cite", "turn": first.id, "quote": "q1"})[1] is None


def test_export_holds_every_quote_and_citation(backend: web.ChatBackend) -> None:
    conversation, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    conversation, _ = ask(backend, "Danube river", conversation)
    path = backend.export(conversation)
    assert path is not None
    exported = Path(path).read_text(encoding="utf-8")
    # Rendered as Markdown, it shows every question, quote and citation as written.
    shown = MarkdownIt().render(exported)
    text = html.unescape(re.sub(r"<[^>]+>", "", shown))
    assert "Who trains apprentices in slow fermentation?" in text and "Danube river" in text
    for turn in turns_of(conversation):
        for quote in turn.quotes():
            assert quote.citation in text
            assert all(line in text for line in quote.text.split("\n"))


def test_chat_picks_up_edited_articles_in_the_background(backend: web.ChatBackend, corpus: Path) -> None:
    before = backend.index.generation
    assert "Up to date: 6 paragraphs" in backend.status_html()
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
    assert "Up to date: 7 paragraphs" in backend.status_html()


def test_failed_update_is_reported_once_and_retried_with_back_off(
    backend: web.ChatBackend, corpus: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
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


def test_abstaining_answer_is_marked_and_not_highlighted(backend: web.ChatBackend) -> None:
    _, page = ask(backend, "quantum chromodynamics lattice gauge")
    assert "probably not an answer" in page and "qa-not-found" in page
    assert '<mark class="qa-answer">' not in page and "match " not in page


def test_badge_appears_when_a_quoted_file_changes(backend: web.ChatBackend, corpus: Path) -> None:
    conversation, page = ask(backend, "Who trains apprentices in slow fermentation?")
    assert "Changed since this answer" not in page
    status, drawn, _, seen, _docs = backend.tick(conversation, web.Seen(), [])
    assert "Up to date" in status
    turn = turns_of(conversation)[0]
    quote = turn.quote("q1")
    assert quote is not None
    path = corpus / quote.source
    # The quoted paragraph itself is edited (an edit elsewhere in the file leaves its quote alone).
    text = path.read_text(encoding="utf-8")
    assert quote.text in text
    path.write_text(text.replace(quote.text, quote.text.replace("apprentices", "students")), encoding="utf-8")
    # Not before the index has taken the edit up: the answer quoted the file as it was indexed.
    _, drawn, _, seen, _ = backend.tick(conversation, seen, [])
    assert (turn.id, "q1") not in dict(seen.stale)
    backend.live.check()
    _, drawn, _, seen, _ = backend.tick(conversation, seen, [])
    assert isinstance(drawn, str) and "Changed since this answer" in drawn and 'data-action="reask"' in drawn
    assert dict(seen.stale)[(turn.id, "q1")] == Notice(moved=False, now="")
    # Unchanged since: the next tick leaves the page alone.
    _, again, _, _, _ = backend.tick(conversation, seen, [])
    assert not isinstance(again, str)


def test_api_rejects_bad_arguments_with_a_message(backend: web.ChatBackend) -> None:
    for question, k, sources in (
        (None, 3, None),
        (123, 3, None),
        ("Etna", "abc", None),
        ("Etna", 2.7, None),
        ("Etna", True, None),
        ("Etna", 0, None),
        ("Etna", 3, "volcano.txt"),
        ("Etna", 3, ["nope.txt"]),
        ("x" * 5000, 3, None),
    ):
        data = backend.ask(question, k, sources)
        assert data["found"] is False and data["error"], (question, k, sources)
    assert backend.ask("Etna volcano", 3, ["volcano.txt"])["quotes"][0]["source"] == "volcano.txt"


def test_default_citation_label_is_relative_to_the_working_folder(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes import FakeEmbedder

    monkeypatch.chdir(tmp_path)
    index = qa.build_index(corpus.resolve(), tmp_path / "i", embedder=FakeEmbedder())
    assert index.search("Danube", k=1)[0].citation == "corpus/nested/rivers.txt ¶1 (line 1)"


def test_last_update_is_when_the_content_last_changed(backend: web.ChatBackend, corpus: Path) -> None:
    built = backend.index.snapshot.meta.updated
    assert 0 < built <= time.time() and backend.live.status().updated == built
    # Another server taking the same state up later shows the same time.
    other = qa.LiveIndex(backend.live.folder, corpus, embedder=backend.index.embedder())
    other.current()
    assert other.status().updated == built
    time.sleep(0.01)
    (corpus / "glacier.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.", encoding="utf-8")
    backend.live.check()
    assert backend.live.status().updated > built
    assert "last update" in backend.status_html()


def test_broken_unicode_and_bad_sources_are_refused(backend: web.ChatBackend) -> None:
    conversation = Conversation()
    _, box = backend.start("Basra \ud800 center", conversation, [])
    assert turns_of(conversation) == () and box == "Basra \ud800 center"
    with pytest.raises(qa.QueryError):
        conversation.ask("Etna", "volcano.txt")  # type: ignore[arg-type]
    with pytest.raises(qa.QueryError):
        conversation.ask("Etna", [1])  # type: ignore[list-item]
    assert backend.ask("Basra \ud800 center")["error"]


def test_follow_up_asked_before_the_previous_answer_keeps_its_subject(backend: web.ChatBackend) -> None:
    conversation = Conversation()
    backend.start("Where does the Danube river flow?", conversation, [])
    backend.start("and the Rhine?", conversation, [])
    backend.finish(conversation)
    assert turns_of(conversation)[-1].searched == "and the Rhine? Where does the Rhine river flow?"


def test_closing_removes_the_export_files(fake_index: qa.Index) -> None:
    chat_backend = web.ChatBackend(fake_index)
    conversation, _ = ask(chat_backend, "Danube river")
    path = chat_backend.export(conversation)
    assert path is not None and Path(path).exists()
    chat_backend.forget(conversation)
    assert not Path(path).exists()
    chat_backend.close()
    assert not Path(path).parent.parent.exists()


def test_source_pane_refuses_links_out_of_the_corpus(backend: web.ChatBackend, corpus: Path, tmp_path: Path) -> None:
    conversation, _ = ask(backend, "Who trains apprentices in slow fermentation?")
    turn = turns_of(conversation)[0]
    quote = turn.quote("q1")
    assert quote is not None
    # The quoted file is swapped for a link to a secret outside the corpus after the answer.
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET outside the corpus", encoding="utf-8")
    (corpus / quote.source).unlink()
    (corpus / quote.source).symlink_to(secret)
    _, pane = backend.act(conversation, {"action": "cite", "turn": turn.id, "quote": "q1"})
    assert pane is not None and "SECRET" not in pane.html and "outside the corpus" in pane.html


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1e3", "65"])
def test_a_bad_concurrency_setting_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    from qa.cli import main
    from qa.config import read_environment

    with pytest.raises(qa.SettingsError, match="QA_CONCURRENCY"):
        _ = read_environment({"QA_CONCURRENCY": value}).server
    assert read_environment({"QA_CONCURRENCY": "2"}).server.concurrency == 2
    # Said before anything starts, in one line.
    monkeypatch.setenv("QA_CONCURRENCY", value)
    assert main(["serve"]) == 1
    assert capsys.readouterr().err.startswith("qa: error: QA_CONCURRENCY must be a whole number from 1 to 64")


def test_the_question_limit_follows_the_settings(corpus: Path, tmp_path: Path) -> None:
    from fakes import FakeEmbedder

    index = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder(), settings=qa.Settings(max_question_chars=12))
    backend = web.ChatBackend(index)
    try:
        assert "limit is 12" in backend.ask("Etna volcano eruptions")["error"]
        conversation = Conversation()
        _, box = backend.start("Etna volcano eruptions", conversation, [])
        assert box == "Etna volcano eruptions" and turns_of(conversation) == ()
        assert "error" not in backend.ask("Etna volcano")
    finally:
        backend.close()


def test_conversations_belong_to_the_browser_or_to_the_signed_in_user(backend: web.ChatBackend) -> None:
    first, second = "a" * 32, "b" * 32
    mine, _, _, _ = backend.restore(None, first)
    mine.ask("Where is Mount Etna?", (), limit=2000)
    # Another browser does not see it; the same browser after a reload does.
    theirs, page, _, listing = backend.restore(None, second)
    assert theirs.id != mine.id and "Mount Etna" not in page and "Mount Etna" not in listing
    again, page, _, _ = backend.restore(None, first)
    assert again.id == mine.id and "Where is Mount Etna?" in page
    # Under --auth a user's conversations follow them from browser to browser, and no one else's.
    ann, _, _, _ = backend.restore("ann", first)
    ann.ask("Who owns the Corner Bakery?", (), limit=2000)
    elsewhere, page, _, _ = backend.restore("ann", second)
    assert elsewhere.id == ann.id and "Who owns the Corner Bakery?" in page
    bob, page, _, _ = backend.restore("bob", first)
    assert bob.id != ann.id and "Corner Bakery" not in page and "Mount Etna" not in page


def test_a_page_whose_conversation_is_not_saved_says_so_in_the_sidebar(backend: web.ChatBackend) -> None:
    # No browser id (no cookie): the conversation lives in the page only, and the list says it.
    conversation, _, _, listing = backend.restore(None, "")
    assert not isinstance(conversation, web.SavedConversation)
    assert "kept in this page only: it is not saved" in listing
