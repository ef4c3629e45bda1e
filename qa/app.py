"""The web chat (Gradio); the only module that imports gradio.

The conversation is a :class:`gradio.HTML` component rendered by :mod:`qa.render` from the
session's turns (:mod:`qa.chat`); clicks on its citations, votes and buttons come back as
one ``click`` event carrying what was clicked. No file is served by path: the source pane
shows an indexed file's text through the same event, and only that.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from . import chat, render
from .answers import Quote
from .errors import QAError, QueryError, SettingsError
from .feedback import Vote, feedback_path, record_vote, utc_now
from .index import Index
from .live import LiveIndex
from .retrieval import check_question

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

#: Answers computed at once, per kind of request (chat, API): ``$QA_CONCURRENCY``, default 4
#: (benchmarks/load.py: numpy, FAISS and onnxruntime release the GIL, so on 2 cores a few
#: answers overlap; more only queue).
ANSWER_CONCURRENCY = 4


def answer_concurrency() -> int:
    """Answers computed at once: ``$QA_CONCURRENCY`` (1 to 64), else :data:`ANSWER_CONCURRENCY`.

    Raises:
        SettingsError: ``$QA_CONCURRENCY`` is not a whole number from 1 to 64.

    """
    raw = os.environ.get("QA_CONCURRENCY", "").strip()
    if not raw:
        return ANSWER_CONCURRENCY
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 64:
        raise SettingsError(f"QA_CONCURRENCY must be a whole number from 1 to 64, not {raw[:20]!r}")
    return int(raw)


#: Most passages the HTTP endpoint ranks for one request.
MAX_K = 100

#: Characters of a refused question echoed back.
ECHO = 80

#: Requests waiting in the queue before new ones are turned away.
QUEUE_SIZE = 256

#: Largest upload accepted (``$QA_MAX_UPLOAD``, e.g. ``1mb``): the chat uploads nothing, so
#: this only shuts a door.
MAX_UPLOAD = "64kb"

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
.qa-source-about { font-size: .9em; opacity: .85; margin: 0 0 .25rem; }
.qa-page { margin: 0 0 1rem; }
.qa-page-frame { position: relative; line-height: 0; }
.qa-page-image { display: block; width: 100%; height: auto; background: #fff; }
.qa-box { position: absolute; pointer-events: none; border-radius: 2px; }
.qa-box-quote { background: rgba(40, 110, 255, .22); outline: 1px solid rgba(40, 110, 255, .55); }
.qa-box-answer { background: rgba(255, 214, 0, .45); }
.qa-page figcaption { font-size: .85em; opacity: .85; text-align: center; }
.qa-status-line { font-size: .9em; }
.qa-status-facts { opacity: .85; }
"""

#: The conversation's script: turns clicks on its buttons into events, copies quotes, and
#: keeps the newest turn in view.
CHAT_JS = r"""
const send = (data) => trigger('click', Object.assign({action: '', turn: -1, quote: '', vote: '', query: ''}, data));
// What the person changed on the page that a redraw would lose: open "more passages", edited searches.
const opened = new Set();
const edits = new Map();
element.addEventListener('toggle', (event) => {
  const more = event.target;
  if (!more.classList || !more.classList.contains('qa-more')) return;
  if (more.open) opened.add(more.dataset.turn); else opened.delete(more.dataset.turn);
}, true);
element.addEventListener('input', (event) => {
  const input = event.target;
  if (input.classList && input.classList.contains('qa-searched-input')) edits.set(input.dataset.turn, input.value);
});
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
    edits.delete(String(turn));
  }
  send(data);
});
element.addEventListener('keydown', (event) => {
  const input = event.target;
  if (event.key === 'Enter' && input.classList && input.classList.contains('qa-searched-input')) {
    event.preventDefault();
    edits.delete(input.dataset.turn);
    send({action: 'rerun', turn: Number(input.dataset.turn), query: input.value});
  }
});
let seen = '';
const redrawn = () => {
  element.querySelectorAll('details.qa-more').forEach((more) => { more.open = opened.has(more.dataset.turn); });
  element.querySelectorAll('.qa-searched-input').forEach((input) => {
    input.value = edits.has(input.dataset.turn) ? edits.get(input.dataset.turn) : input.defaultValue;
  });
  const log = element.querySelector('.qa-log');
  if (!log) return;
  // Follow the newest turn when one is added or answered, not on every redraw.
  const now = log.dataset.turns + '/' + log.querySelectorAll('.qa-searching').length;
  if (now !== seen) { seen = now; log.scrollTop = log.scrollHeight; }
};
watch('value', redrawn);
redrawn();
"""

#: The source pane's script: bring the quoted paragraph into view whenever it changes.
SOURCE_JS = r"""
const show = () => {
  const quoted = element.querySelector('.qa-para, .qa-box-quote');
  if (quoted) quoted.scrollIntoView({block: 'center'});
};
watch('value', show);
show();
"""


@dataclass(frozen=True)
class Seen:
    """What the page last showed of things that change in the background."""

    stale: frozenset[tuple[int, str]] = frozenset()
    version: int = -1
    choices: tuple[str, ...] = ()


class ChatBackend:
    """The chat's behaviour, one method per event; each session's state is a :class:`chat.Conversation`."""

    def __init__(self, index: Index | LiveIndex) -> None:
        """Serve answers from ``index`` (wrapped in a :class:`LiveIndex` if it is a plain state)."""
        if isinstance(index, Index):
            index = LiveIndex(index.folder, index.corpus, settings=index.settings, index=index)
        self.live = index
        self._exports = Path(tempfile.mkdtemp(prefix="qa-export-"))
        self._choices: tuple[str, int, list[str]] = ("", -1, [])

    @property
    def index(self) -> Index:
        """The state answers come from now."""
        return self.live.current()

    @property
    def limit(self) -> int:
        """Longest question accepted (``Settings.max_question_chars``)."""
        return self.index.settings.max_question_chars

    # -- API ----------------------------------------------------------------------------------

    def ask(self, question: object, k: object = None, sources: object = None) -> dict[str, Any]:
        """The answer as JSON data (what ``qa ask --json`` prints); bad input as ``{"error"}``.

        This is the HTTP edge: ``k`` is a whole number from 1 to :data:`MAX_K` (``None``:
        the default), ``sources`` a list of file or folder names or ``None``, the
        question text of at most ``settings.max_question_chars`` characters. A refused request
        echoes at most a short prefix of its question.
        """
        try:
            if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
                shown = repr(k) if isinstance(k, (int, float, bool)) else f"a {type(k).__name__}"
                raise QueryError(f"k must be a whole number from 1 to {MAX_K}, got {shown}")
            if sources is not None and (
                not isinstance(sources, list) or not all(isinstance(s, str) and len(s) <= 1000 for s in sources)
            ):
                raise QueryError("sources must be a list of files or folders")
            index = self.index
            question = check_question(question, index.settings.max_question_chars)
            return index.answer(question, k, sources=sources or None).to_dict()
        except QAError as exc:
            text = question if isinstance(question, str) else ""
            if len(text) > ECHO:
                text = text[:ECHO] + "…"
            # The answer's usual keys, so that a caller reads every reply the same way.
            return {
                "question": text,
                "searched": "",
                "found": False,
                "confident": False,
                "confidence": None,
                "message": str(exc),
                "quotes": [],
                "more": [],
                "warnings": [],
                "error": str(exc),
            }

    # -- page parts ---------------------------------------------------------------------------

    def status_html(self) -> str:
        """The index status: files, paragraphs, model, last update, running update or failure."""
        index = self.index
        return render.status_html(self.live.status(), index.manifest.model)

    def choices(self) -> list[str]:
        """Files and folders a question can be limited to (listed once per index state)."""
        index = self.index
        key = (index.snapshot.meta.epoch, index.generation)
        if self._choices[:2] != key:
            self._choices = (*key, [*index.folders(), *index.sources()])
        return list(self._choices[2])

    def page(self, conversation: chat.Conversation) -> tuple[str, frozenset[tuple[int, str]], int]:
        """The conversation as HTML as it is now, with "changed since" badges; and what it showed."""
        turns, votes, version = conversation.view()
        stale = chat.stale_quotes(turns, self.index)
        return render.conversation_html(turns, stale, votes), stale, version

    def export(self, conversation: chat.Conversation) -> str | None:
        """Write the conversation as Markdown to its session's file and return its path."""
        turns, _, _ = conversation.view()
        if not turns:
            return None
        path = self._exports / conversation.id / "conversation.md"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside under a name of its own and renamed, so that neither a download in
            # progress nor another event of the same session ever sees half a file.
            handle, part = tempfile.mkstemp(suffix=".part", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(chat.export_markdown(turns))
            os.replace(part, path)
        except OSError:
            log.exception("could not write the conversation for export")
            return None
        return str(path)

    def forget(self, conversation: chat.Conversation) -> None:
        """Remove a closed session's export file."""
        shutil.rmtree(self._exports / conversation.id, ignore_errors=True)

    def close(self) -> None:
        """Remove every export file (the server is stopping)."""
        shutil.rmtree(self._exports, ignore_errors=True)

    # -- events -------------------------------------------------------------------------------

    def start(self, message: str, conversation: chat.Conversation, sources: list[str] | None) -> tuple[str, str]:
        """Show the question at once, with a searching indicator; :meth:`finish` answers it.

        Returns:
            ``(conversation HTML, text left in the question box)``.

        """
        try:
            conversation.ask(message, sources or (), limit=self.limit)
        except QAError as exc:
            gr.Warning(str(exc))
            return self.page(conversation)[0], message
        return self.page(conversation)[0], ""

    def finish(self, conversation: chat.Conversation) -> tuple[Any, Any]:
        """Answer every pending question, show the answers and offer the conversation for export."""
        if not conversation.answer_pending(self.index):
            return gr.skip(), gr.skip()
        return self.page(conversation)[0], self.export(conversation)

    def act(self, conversation: chat.Conversation, event: object) -> tuple[Any, str | None]:
        """A click in the conversation: open a citation, vote, ask again or search again.

        ``event`` comes from the page and is not trusted: anything that does not name a
        turn and quote of this conversation changes nothing.

        Returns:
            ``(conversation HTML or gr.skip(), source pane HTML or None to leave it)``.

        """
        data = event if isinstance(event, dict) else {}
        action = data.get("action")
        turn = conversation.turn(data.get("turn"))
        if turn is None:
            return gr.skip(), None
        quote = turn.quote(data.get("quote"))
        if action == "cite" and quote is not None:
            try:
                return gr.skip(), render.source_html(chat.source_view(self.index, quote))
            except QAError as exc:
                return gr.skip(), render.source_message_html(str(exc))
        try:
            if action == "vote" and quote is not None and data.get("vote") in ("up", "down"):
                vote: chat.Vote = "up" if data["vote"] == "up" else "down"
                prefix = "q" if turn.answer is not None and quote in turn.answer.quotes else "m"
                conversation.vote(turn.id, chat.quote_key(prefix, quote), vote)
                self._record(turn, quote, vote)
            elif action == "reask":
                conversation.ask(turn.searched or turn.question, turn.sources, literal=True, limit=self.limit)
            elif action == "rerun" and isinstance(data.get("query"), str):
                conversation.ask(data["query"], turn.sources, literal=True, limit=self.limit)
            else:
                return gr.skip(), None
        except QAError as exc:
            gr.Warning(str(exc))
            return gr.skip(), None
        return self.page(conversation)[0], None

    def _record(self, turn: chat.Turn, quote: Quote, vote: chat.Vote) -> None:
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

    def tick(self, conversation: chat.Conversation, seen: Seen, chosen: list[str] | None) -> tuple[Any, ...]:
        """Every second: the status line; the conversation when it or its badges changed; the filter choices.

        The conversation goes back out unchanged: that keeps Gradio counting the session
        as alive, and lets it drop the conversation (and its export) once the page is gone.
        """
        page: Any = gr.skip()
        turns, votes, version = conversation.view()
        stale = chat.stale_quotes(turns, self.index)
        if (stale, version) != (seen.stale, seen.version):
            page = render.conversation_html(turns, stale, votes)
        choices = tuple(self.choices())
        filters: Any = gr.skip()
        if choices != seen.choices:
            # A chosen file that is gone is dropped from the choice too; otherwise the
            # choice is left alone (the person may be choosing right now).
            kept = [c for c in chosen or [] if c in choices]
            if kept != list(chosen or []):
                filters = gr.update(choices=list(choices), value=kept)
            else:
                filters = gr.update(choices=list(choices))
        return self.status_html(), page, filters, Seen(stale, version, choices), conversation


def build_app(index: Index | LiveIndex) -> gr.Blocks:
    """The chat page plus the ``ask`` API endpoint.

    Raises:
        SettingsError: ``$QA_CONCURRENCY`` is malformed.

    """
    concurrency = answer_concurrency()
    backend = ChatBackend(index)

    def ask(question: str = "", k: int = 5, sources: list[str] | None = None) -> dict[str, Any]:
        """Answer a question with verbatim quotes; same JSON as `qa ask --json`."""
        return backend.ask(question, k, sources)

    def act(conversation: chat.Conversation, event: gr.EventData) -> tuple[Any, Any, Any]:
        page, pane = backend.act(conversation, getattr(event, "_data", None))
        if pane is None:
            return page, gr.skip(), gr.skip()
        return page, pane, gr.update(visible=True)

    # No usage analytics: the bot runs offline and sends nothing anywhere. Exports Gradio
    # keeps in its cache are deleted after a day.
    with gr.Blocks(title="Citation QA", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            "## Ask the articles\nEvery answer is a verbatim quote with its article, file, paragraph and lines; "
            "the sentence that best answers is marked. Click a citation to read it in its article."
        )
        status = gr.HTML(backend.status_html(), elem_id="qa-status")
        conversation = gr.State(chat.Conversation(), delete_callback=backend.forget)
        # The page starts with the choices of now: the first tick has nothing to change.
        seen = gr.State(Seen(choices=tuple(backend.choices())))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                page = gr.HTML(render.conversation_html([]), elem_id="qa-chat", js_on_load=CHAT_JS)
                box = gr.Textbox(
                    label="Your question",
                    placeholder="Ask a question about the articles…",
                    submit_btn="Ask",
                    elem_id="qa-question",
                    max_lines=4,
                    max_length=backend.index.settings.max_question_chars,
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
        # The status line, the "changed since" badges and the filter choices follow
        # background updates; a tick is cheap, so every open page gets its own.
        timer = gr.Timer(STATUS_INTERVAL)
        timer.tick(
            backend.tick,
            [conversation, seen, filters],
            [status, page, filters, seen, conversation],
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
        quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        finish: dict[str, Any] = {
            "fn": backend.finish,
            "inputs": [conversation],
            "outputs": [page, export],
            "concurrency_limit": concurrency,
            # One limit for every way of asking (box, examples, clicks), not one each.
            "concurrency_id": "answer",
            **quiet,
        }
        # Showing a question or opening a citation takes milliseconds: no queue for those.
        instant: dict[str, Any] = {"concurrency_limit": None, **quiet}
        box.submit(backend.start, [box, conversation, filters], [page, box], **instant).then(**finish)
        for button in examples:
            button.click(backend.start, [button, conversation, filters], [page, box], **instant).then(**finish)
        page.click(act, [conversation], [page, source, pane_column], **instant).then(**finish)
        close.click(lambda: gr.update(visible=False), None, pane_column, **quiet)
        gr.api(ask, api_name="ask", concurrency_limit=concurrency)  # type: ignore[attr-defined]
    # Kept on the app, so that close_app can remove its export files.
    demo.qa_backend = backend
    demo.queue(max_size=QUEUE_SIZE)
    return demo  # type: ignore[no-any-return]


def launch_options() -> dict[str, Any]:
    """What :meth:`gradio.Blocks.launch` needs besides address and port.

    The page's CSS; no ``allowed_paths`` (no file under the corpus is served by path);
    uploads limited to ``$QA_MAX_UPLOAD`` (default 64 KB: nothing here uploads); Gradio's
    monitoring endpoint only with ``QA_MONITORING=1``; errors Gradio raises itself shown
    to the caller.
    """
    monitoring = os.environ.get("QA_MONITORING", "").strip() == "1"
    upload = os.environ.get("QA_MAX_UPLOAD", "").strip() or MAX_UPLOAD
    # show_error: a request Gradio itself refuses (too few values) gets its message, not null.
    return {"css": CSS, "max_file_size": upload, "enable_monitoring": monitoring, "show_error": True}


def serve(live: LiveIndex, *, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None) -> None:
    """Warm the model, launch the chat, watch the corpus in the background; block until interrupted.

    Args:
        live: The index to serve.
        host: Address to bind.
        port: Port to bind.
        auth: ``(user, password)`` every visitor must give (page and API), or ``None``.

    """
    # A malformed $QA_CONCURRENCY is said before anything starts.
    answer_concurrency()
    warm_up(live)
    live.start()
    demo = build_app(live)
    try:
        demo.launch(server_name=host, server_port=port, auth=auth, **launch_options())
    finally:
        live.stop()
        close_app(demo)


def close_app(demo: gr.Blocks) -> None:
    """Stop the server and remove the files it wrote for export."""
    demo.close()
    backend = getattr(demo, "qa_backend", None)
    if isinstance(backend, ChatBackend):
        backend.close()


def warm_up(live: LiveIndex) -> None:
    """Load the model and the question encoder before the URL is printed, so the first answer is quick."""
    index = live.current()
    if len(index):
        index.answer("warm up")
