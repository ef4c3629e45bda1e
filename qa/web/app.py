"""The web chat (Gradio); the only module that imports gradio.

The conversation is a :class:`gradio.HTML` component rendered by :mod:`qa.web.render` from the
session's turns (:mod:`qa.web.conversation`); clicks on its citations, votes and buttons come
back as one ``click`` event carrying what was clicked, handled by :mod:`qa.web.backend`. No
file is served by path: the source pane shows an indexed file's text through the same
event, and only that. The page's style and scripts are the files under ``qa/web/static/``.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Any

import gradio as gr

from ..config import ServerSettings
from ..index import Index
from ..live import LiveIndex
from . import render
from .backend import KEEP, ChatBackend, Choices, Seen
from .conversation import Conversation

#: Questions offered under the chat; clicking one asks it.
EXAMPLES = [
    "Who directs the Basra Cultural Center?",
    "What is the Mosul-Palestine Cultural Bridge project?",
    "What kind of aid do organizations in Isfahan send to Gaza?",
    "What is the capital of France?",
]

#: Seconds between refreshes of the index status and of the "changed since" badges.
STATUS_INTERVAL = 1.0

#: Requests waiting in the queue before new ones are turned away.
QUEUE_SIZE = 256


@cache
def _static(name: str) -> str:
    """A file of the page (style or script) under ``qa/web/static/``."""
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _gradio(*values: Any) -> tuple[Any, ...]:
    """The backend's outputs as Gradio takes them: :data:`KEEP` as ``gr.skip()``, :class:`Choices` as an update."""
    converted: list[Any] = []
    for value in values:
        if value is KEEP:
            converted.append(gr.skip())
        elif isinstance(value, Choices):
            # Without a value, the person's current choice is left alone.
            if value.value is None:
                converted.append(gr.update(choices=value.choices))
            else:
                converted.append(gr.update(choices=value.choices, value=value.value))
        else:
            converted.append(value)
    return tuple(converted)


def build_app(index: Index | LiveIndex, server: ServerSettings = ServerSettings()) -> gr.Blocks:
    """The chat page plus the ``ask`` API endpoint, computing ``server.concurrency`` answers at once."""
    concurrency = server.concurrency
    # Gradio renders a warning's text as HTML: it is escaped like everything else shown.
    backend = ChatBackend(index, warn=lambda message: gr.Warning(html.escape(message)))

    def ask(question: str = "", k: int = 5, sources: list[str] | None = None) -> dict[str, Any]:
        """Answer a question with verbatim quotes; same JSON as `qa ask --json`."""
        return backend.ask(question, k, sources)

    def start(message: str, conversation: Conversation, sources: list[str] | None) -> tuple[Any, ...]:
        return _gradio(*backend.start(message, conversation, sources))

    def answer(conversation: Conversation) -> tuple[Any, ...]:
        return _gradio(*backend.finish(conversation))

    def act(conversation: Conversation, event: gr.EventData) -> tuple[Any, Any, Any]:
        page, pane = backend.act(conversation, getattr(event, "_data", None))
        if pane is None:
            return _gradio(page, KEEP, KEEP)
        return _gradio(page, pane, gr.update(visible=True))

    def tick(conversation: Conversation, seen: Seen, chosen: list[str] | None) -> tuple[Any, ...]:
        return _gradio(*backend.tick(conversation, seen, chosen))

    # No usage analytics: the bot runs offline and sends nothing anywhere. Exports Gradio
    # keeps in its cache are deleted after a day.
    with gr.Blocks(title="Citation QA", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            "## Ask the articles\nEvery answer is a verbatim quote with its article, file, paragraph and lines; "
            "the sentence that best answers is marked. Click a citation to read it in its article."
        )
        status = gr.HTML(backend.status_html(), elem_id="qa-status")
        conversation = gr.State(Conversation(), delete_callback=backend.forget)
        # The page starts with the choices of now: the first tick has nothing to change.
        seen = gr.State(Seen(choices=tuple(backend.choices())))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                page = gr.HTML(render.conversation_html([]), elem_id="qa-chat", js_on_load=_static("chat.js"))
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
                source = gr.HTML("", elem_id="qa-source", js_on_load=_static("source.js"))
                close = gr.Button("Close the article", size="sm", elem_id="qa-source-close")
        # The status line, the "changed since" badges and the filter choices follow
        # background updates; a tick is cheap, so every open page gets its own.
        timer = gr.Timer(STATUS_INTERVAL)
        timer.tick(
            tick,
            [conversation, seen, filters],
            [status, page, filters, seen, conversation],
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
        quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        finish: dict[str, Any] = {
            "fn": answer,
            "inputs": [conversation],
            "outputs": [page, export],
            "concurrency_limit": concurrency,
            # One limit for every way of asking (box, examples, clicks), not one each.
            "concurrency_id": "answer",
            **quiet,
        }
        # Showing a question or opening a citation takes milliseconds: no queue for those.
        instant: dict[str, Any] = {"concurrency_limit": None, **quiet}
        box.submit(start, [box, conversation, filters], [page, box], **instant).then(**finish)
        for button in examples:
            button.click(start, [button, conversation, filters], [page, box], **instant).then(**finish)
        page.click(act, [conversation], [page, source, pane_column], **instant).then(**finish)
        close.click(lambda: gr.update(visible=False), None, pane_column, **quiet)
        gr.api(ask, api_name="ask", concurrency_limit=concurrency)  # type: ignore[attr-defined]
    # Kept on the app, so that close_app can remove its export files.
    demo.qa_backend = backend
    demo.queue(max_size=QUEUE_SIZE)
    return demo  # type: ignore[no-any-return]


def launch_options(server: ServerSettings = ServerSettings()) -> dict[str, Any]:
    """What :meth:`gradio.Blocks.launch` needs besides address and port.

    The page's CSS; no ``allowed_paths`` (no file under the corpus is served by path);
    uploads limited to ``server.max_upload`` (default 64 KB: nothing here uploads); Gradio's
    monitoring endpoint only if ``server.monitoring``; errors Gradio raises itself shown
    to the caller.
    """
    # show_error: a request Gradio itself refuses (too few values) gets its message, not null.
    return {
        "css": _static("chat.css"),
        "max_file_size": server.max_upload,
        "enable_monitoring": server.monitoring,
        "show_error": True,
    }


def serve(
    live: LiveIndex,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    server: ServerSettings = ServerSettings(),
) -> None:
    """Warm the model, launch the chat, watch the corpus in the background; block until interrupted.

    Args:
        live: The index to serve.
        host: Address to bind.
        port: Port to bind.
        auth: ``(user, password)`` every visitor must give (page and API), or ``None``.
        server: Limits of the HTTP layer.

    Raises:
        OSError: The address cannot be served (in use, not this machine's).

    """
    warm_up(live)
    live.start()
    demo = build_app(live, server)
    try:
        demo.launch(server_name=host, server_port=port, auth=auth, **launch_options(server))
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
