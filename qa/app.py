"""The web chat (Gradio); the only module that imports gradio.

The conversation is a :class:`gradio.HTML` component rendered by :mod:`qa.render` from the
session's turns (:mod:`qa.chat`); clicks on its citations, votes and buttons come back as
one ``click`` event carrying what was clicked. No file is served by path: the source pane
shows an indexed file's text through the same event, and only that.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gradio as gr

from . import chat, render
from .errors import QAError
from .feedback import Vote, feedback_path, record_vote, utc_now
from .index import Index
from .live import LiveIndex

log = logging.getLogger(__name__)

#: Questions offered under the chat; clicking one asks it.
EXAMPLES = [
    "Who directs the Basra Cultural Center?",
    "What is the Mosul-Palestine Cultural Bridge project?",
    "What kind of aid do organizations in Isfahan send to Gaza?",
    "What is the capital of France?",
]

#: Seconds between refreshes of the index status and of the "changed since" badges.
STATUS_INTERVAL = 1.0

#: Answers computed at once (each takes tens of milliseconds; more only queue).
ANSWER_CONCURRENCY = 4

# Colours: text on highlight at 4.5:1 or better in both modes (tests/test_browser.py checks).
CSS = """
.qa-log { max-height: 68vh; overflow-y: auto; padding-right: .25rem; }
.qa-empty { opacity: .8; }
.qa-turn { margin: 0 0 1.25rem; }
.qa-question { margin-left: 15%; padding: .5rem .75rem; border-radius: 10px;
  background: var(--color-accent-soft); color: var(--body-text-color); }
.qa-question p { margin: 0; white-space: pre-wrap; }
.qa-scope { font-size: .85em; opacity: .85; }
.qa-answer-block { margin-top: .5rem; margin-right: 5%; padding: .5rem .75rem; border-radius: 10px;
  border: 1px solid var(--border-color-primary); }
.qa-searching { display: flex; align-items: center; gap: .5rem; }
.qa-spinner { width: 1em; height: 1em; border: 2px solid var(--border-color-primary);
  border-top-color: var(--color-accent); border-radius: 50%; animation: qa-spin 1s linear infinite; }
@keyframes qa-spin { to { transform: rotate(360deg); } }
.qa-searched { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; font-size: .9em; }
.qa-searched-input { flex: 1 1 14rem; min-width: 8rem; padding: .15rem .4rem;
  border: 1px solid var(--border-color-primary); border-radius: 6px; background: var(--input-background-fill);
  color: var(--body-text-color); }
.qa-message { font-weight: 600; margin: .5rem 0; }
.qa-quote { margin: .5rem 0 .9rem; }
.qa-text { margin: 0; padding: .25rem .75rem; border-left: 3px solid var(--border-color-accent);
  white-space: pre-wrap; }
.qa-quote figcaption { margin-top: .25rem; font-size: .9em; }
.qa-cite, .qa-link { background: none; border: none; padding: 0; cursor: pointer; text-align: left;
  color: var(--link-text-color); text-decoration: underline; font: inherit; }
.qa-where { font-family: var(--font-mono); font-size: .95em; }
.qa-score { opacity: .8; }
.qa-also { font-size: .85em; opacity: .9; }
.qa-actions { display: flex; gap: .4rem; margin-top: .25rem; }
.qa-actions button { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: .05rem .5rem;
  background: var(--button-secondary-background-fill); color: var(--body-text-color); cursor: pointer;
  font-size: .85em; font-weight: normal; }
.qa-actions .qa-voted { border-color: var(--color-accent); outline: 2px solid var(--color-accent); }
.qa-stale { margin: .35rem 0; padding: .25rem .5rem; border-radius: 6px;
  background: #fde2e1; color: #5c1010; }
.dark .qa-stale { background: #4a1515; color: #ffe4e1; }
.qa-error { color: var(--error-text-color); }
mark.qa-answer { background: #fff3a3; color: #1a1a1a; padding: 0 .1em; border-radius: 2px; }
.dark mark.qa-answer { background: #6b5800; color: #fffbe6; }
.qa-para { background: #dbe9ff; color: #10213d; }
.dark .qa-para { background: #17345f; color: #eef4ff; }
.qa-source-body { max-height: 70vh; overflow: auto; border: 1px solid var(--border-color-primary);
  border-radius: 8px; }
.qa-lines { border-collapse: collapse; width: 100%; font-size: .92em; }
.qa-lines, .qa-lines tr, .qa-lines td { border: none !important; background: none; }
.qa-lines td { vertical-align: top; padding: 0 .5rem; }
.qa-lno { text-align: right; user-select: none; opacity: .75; width: 3em; font-family: var(--font-mono); }
.qa-line { white-space: pre-wrap; word-break: break-word; }
.qa-source-title { margin: 0 0 .25rem; }
.qa-status-line { font-size: .9em; }
.qa-status-facts { opacity: .85; }
"""

#: The conversation's script: turns clicks on its buttons into events, copies quotes, and
#: keeps the newest turn in view.
CHAT_JS = r"""
const send = (data) => trigger('click', Object.assign({action: '', turn: -1, quote: '', vote: '', query: ''}, data));
element.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-action]');
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  const action = button.dataset.action;
  if (action === 'copy') {
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy quote'; }, 1500);
    return;
  }
  const turn = Number(button.dataset.turn);
  const data = {action, turn, quote: button.dataset.quote || '', vote: button.dataset.vote || ''};
  if (action === 'rerun') {
    const input = element.querySelector('#qa-searched-' + turn);
    data.query = input ? input.value : '';
  }
  send(data);
});
element.addEventListener('keydown', (event) => {
  const input = event.target;
  if (event.key === 'Enter' && input.classList && input.classList.contains('qa-searched-input')) {
    event.preventDefault();
    send({action: 'rerun', turn: Number(input.dataset.turn), query: input.value});
  }
});
let seen = -1;
const follow = () => {
  const log = element.querySelector('.qa-log');
  if (!log) return;
  const turns = log.dataset.turns + '/' + log.querySelectorAll('.qa-searching').length;
  if (turns !== seen) { seen = turns; log.scrollTop = log.scrollHeight; }
};
watch('value', follow);
follow();
"""

#: The source pane's script: bring the quoted paragraph into view whenever it changes.
SOURCE_JS = r"""
const show = () => {
  const quoted = element.querySelector('.qa-para');
  if (quoted) quoted.scrollIntoView({block: 'center'});
};
watch('value', show);
show();
"""


@dataclass(frozen=True)
class Seen:
    """What the page last showed of things that change in the background."""

    stale: frozenset[tuple[int, str]] = frozenset()
    choices: tuple[str, ...] = ()


class ChatBackend:
    """The chat's behaviour, one method per event; state lives in the caller's session."""

    def __init__(self, index: Index | LiveIndex) -> None:
        """Serve answers from ``index`` (wrapped in a :class:`LiveIndex` if it is a plain state)."""
        if isinstance(index, Index):
            index = LiveIndex(index.folder, index.corpus, settings=index.settings, index=index)
        self.live = index
        self._exports = Path(tempfile.mkdtemp(prefix="qa-export-"))

    @property
    def index(self) -> Index:
        """The state answers come from now."""
        return self.live.current()

    # -- API ----------------------------------------------------------------------------------

    def ask(self, question: str, k: int | None = None, sources: list[str] | None = None) -> dict[str, Any]:
        """The answer as JSON data (what ``qa ask --json`` prints); errors as ``{"error"}``."""
        try:
            return self.index.answer(question, k, sources=sources or None).to_dict()
        except QAError as exc:
            return {"question": question, "found": False, "quotes": [], "more": [], "error": str(exc)}

    # -- page parts ---------------------------------------------------------------------------

    def status_html(self) -> str:
        """The index status: files, paragraphs, model, last update, running update or failure."""
        index = self.index
        return render.status_html(self.live.status(), index.manifest.model)

    def choices(self) -> list[str]:
        """Files and folders a question can be limited to."""
        index = self.index
        return [*index.folders(), *index.sources()]

    def conversation(self, turns: list[chat.Turn], votes: dict[tuple[int, str], str]) -> str:
        """The conversation as HTML, with "changed since" badges as of now."""
        return render.conversation_html(turns, chat.stale_quotes(turns, self.index), votes)

    def export(self, turns: list[chat.Turn]) -> str | None:
        """Write the conversation as Markdown to a fresh file and return its path."""
        if not turns:
            return None
        # A new file per export: a download in progress never sees the next one being written.
        folder = Path(tempfile.mkdtemp(dir=self._exports))
        path = folder / "conversation.md"
        path.write_text(chat.export_markdown(turns), encoding="utf-8")
        return str(path)

    # -- events -------------------------------------------------------------------------------

    def start(
        self, message: str, turns: list[chat.Turn], sources: list[str] | None, votes: dict[tuple[int, str], str]
    ) -> tuple[list[chat.Turn], str, str]:
        """Show the question at once, with a searching indicator; :meth:`finish` answers it."""
        try:
            turns = chat.ask(turns, message, sources or ())
        except QAError as exc:
            gr.Warning(str(exc))
            return turns, self.conversation(turns, votes), message
        return turns, self.conversation(turns, votes), ""

    def finish(self, turns: list[chat.Turn], votes: dict[tuple[int, str], str]) -> tuple[Any, Any, Any]:
        """Answer the pending question, show the answer and offer the conversation for export."""
        if not turns or not turns[-1].pending:
            return turns, gr.skip(), gr.skip()
        try:
            turns = chat.answer_pending(turns, self.index)
        except Exception:
            log.exception("failed to answer %r", turns[-1].question if turns else "")
            if turns and turns[-1].pending:
                failed = "Something went wrong while answering; the details are in the server log."
                turns = [*turns[:-1], chat.Turn(turns[-1].question, error=failed)]
        return turns, self.conversation(turns, votes), self.export(turns)

    def act(
        self, turns: list[chat.Turn], votes: dict[tuple[int, str], str], event: dict[str, Any]
    ) -> tuple[list[chat.Turn], dict[tuple[int, str], str], str, str | None, bool]:
        """A click in the conversation: open a citation, vote, ask again or search again.

        Returns:
            ``(turns, votes, conversation HTML, source pane HTML or None to leave it, pane visible)``.

        """
        action = str(event.get("action", ""))
        number = event.get("turn", -1)
        turn = turns[number] if isinstance(number, int) and 0 <= number < len(turns) else None
        if turn is None:
            return turns, votes, self.conversation(turns, votes), None, False
        quote = turn.quote(str(event.get("quote", "")))
        if action == "cite" and quote is not None:
            try:
                pane = render.source_html(chat.source_view(self.index, quote))
            except QAError as exc:
                pane = render.source_message_html(str(exc))
            return turns, votes, self.conversation(turns, votes), pane, True
        if action == "vote" and quote is not None and event.get("vote") in ("up", "down"):
            vote: Literal["up", "down"] = "up" if event["vote"] == "up" else "down"
            self._record(turn, quote, vote)
            votes = {**votes, (number, str(event["quote"])): vote}
        elif action == "reask":
            turns = chat.ask(turns, turn.searched or turn.question, turn.sources, literal=True)
        elif action == "rerun" and str(event.get("query", "")).strip():
            turns = chat.ask(turns, str(event["query"]), turn.sources, literal=True)
        return turns, votes, self.conversation(turns, votes), None, False

    def _record(self, turn: chat.Turn, quote: Any, vote: Literal["up", "down"]) -> None:
        """Append a vote to the feedback file beside the index."""
        try:
            record_vote(
                feedback_path(self.live.folder),
                Vote(
                    question=turn.question,
                    searched=turn.searched or turn.question,
                    source=quote.source,
                    paragraph=quote.paragraph,
                    start_line=quote.start_line,
                    end_line=quote.end_line,
                    citation=quote.citation,
                    passage_sha256=quote.passage.sha256,
                    vote=vote,
                    time=utc_now(),
                ),
            )
        except QAError as exc:
            gr.Warning(f"Your vote could not be saved: {exc}")

    def tick(self, turns: list[chat.Turn], votes: dict[tuple[int, str], str], seen: Seen) -> tuple[str, Any, Any, Seen]:
        """Every second: the status line, plus badges and filter choices when they change."""
        stale = chat.stale_quotes(turns, self.index)
        choices = tuple(self.choices())
        busy = any(t.pending for t in turns)
        # While an answer is being searched, its own event redraws the conversation.
        page: Any = gr.skip()
        if stale != seen.stale and not busy:
            page = render.conversation_html(turns, stale, votes)
            seen = Seen(stale, seen.choices)
        filters: Any = gr.skip()
        if choices != seen.choices:
            filters = gr.update(choices=list(choices))
            seen = Seen(seen.stale, choices)
        return self.status_html(), page, filters, seen


def build_app(index: Index | LiveIndex) -> gr.Blocks:
    """The chat page plus the ``ask`` API endpoint."""
    backend = ChatBackend(index)

    def ask(question: str, k: int = 5, sources: list[str] | None = None) -> dict[str, Any]:
        """Answer a question with verbatim quotes; same JSON as `qa ask --json`."""
        return backend.ask(question, int(k), sources)

    def act(turns: list[chat.Turn], votes: dict[tuple[int, str], str], event: gr.EventData) -> tuple[Any, ...]:
        turns, votes, page, pane, show = backend.act(turns, votes, dict(getattr(event, "_data", None) or {}))
        return turns, votes, page, gr.skip() if pane is None else pane, gr.update(visible=True) if show else gr.skip()

    # No usage analytics: the bot runs offline and sends nothing anywhere.
    with gr.Blocks(title="Citation QA", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask the articles\nEvery answer is a verbatim quote with its article, file, paragraph and lines; "
            "the sentence that best answers is marked. Click a citation to read it in its article."
        )
        status = gr.HTML(backend.status_html(), elem_id="qa-status")
        turns = gr.State([])
        votes = gr.State({})
        seen = gr.State(Seen())
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                page = gr.HTML(
                    render.conversation_html([]),
                    elem_id="qa-chat",
                    js_on_load=CHAT_JS,
                    apply_default_css=True,
                )
                box = gr.Textbox(
                    label="Your question",
                    placeholder="Ask a question about the articles…",
                    submit_btn="Ask",
                    elem_id="qa-question",
                    max_lines=4,
                )
                with gr.Row():
                    filters = gr.Dropdown(
                        choices=backend.choices(),
                        multiselect=True,
                        label="Search only in (files or folders; empty: all)",
                        elem_id="qa-filter",
                        scale=3,
                    )
                    export = gr.DownloadButton(
                        "Export conversation (Markdown)", value=None, elem_id="qa-export", scale=1
                    )
                gr.Markdown("**Try one:**")
                with gr.Row():
                    examples = [gr.Button(text, size="sm", variant="secondary") for text in EXAMPLES]
            with gr.Column(scale=2, min_width=360, visible=False, elem_id="qa-source-pane") as pane_column:
                source = gr.HTML("", elem_id="qa-source", js_on_load=SOURCE_JS)
                close = gr.Button("Close the article", size="sm", elem_id="qa-source-close")
        # The status line and the "changed since" badges follow background updates.
        timer = gr.Timer(STATUS_INTERVAL)
        timer.tick(
            backend.tick,
            [turns, votes, seen],
            [status, page, filters, seen],
            api_visibility="private",
            show_progress="hidden",
        )
        finish = {
            "fn": backend.finish,
            "inputs": [turns, votes],
            "outputs": [turns, page, export],
            "api_visibility": "private",
            "show_progress": "hidden",
            "concurrency_limit": ANSWER_CONCURRENCY,
        }
        box.submit(
            backend.start,
            [box, turns, filters, votes],
            [turns, page, box],
            api_visibility="private",
            show_progress="hidden",
        ).then(**finish)
        for button in examples:
            button.click(
                backend.start,
                [button, turns, filters, votes],
                [turns, page, box],
                api_visibility="private",
                show_progress="hidden",
            ).then(**finish)
        page.click(
            act,
            [turns, votes],
            [turns, votes, page, source, pane_column],
            api_visibility="private",
            show_progress="hidden",
        ).then(**finish)
        close.click(lambda: gr.update(visible=False), None, pane_column, api_visibility="private")
        gr.api(ask, api_name="ask")  # type: ignore[attr-defined]
    return demo  # type: ignore[no-any-return]


def launch_options() -> dict[str, Any]:
    """What :meth:`gradio.Blocks.launch` needs besides address and port: the page's CSS.

    No ``allowed_paths``: no file under the corpus is served by path.
    """
    return {"css": CSS}


def serve(live: LiveIndex, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Warm the model, launch the chat, watch the corpus in the background; block until interrupted."""
    warm_up(live)
    live.start()
    demo = build_app(live)
    try:
        demo.launch(server_name=host, server_port=port, **launch_options())
    finally:
        live.stop()


def warm_up(live: LiveIndex) -> None:
    """Load the model and the question encoder before the URL is printed, so the first answer is quick."""
    index = live.current()
    if len(index):
        index.answer("warm up")
