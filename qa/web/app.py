"""The web chat's page (Gradio): the layout, and each event wired to :mod:`qa.web.backend`.

The conversation is a :class:`gradio.HTML` component rendered by :mod:`qa.web.render` from the
session's turns; clicks on its citations, votes and buttons come back as one ``click`` event
carrying what was clicked. The sidebar holds the person's conversations (kept beside the
index, :mod:`qa.web.sessions`) and the corpus's documents (added and removed from the page,
:mod:`qa.web.documents`). No file is served by path: the source pane shows an indexed file
through the same checks as the quotes, and "download original" offers a copy made by them.
The page's style and scripts are the files under ``qa/web/static/``. Served by
:mod:`qa.web.server`.
"""

from __future__ import annotations

import html
from collections import OrderedDict
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import gradio as gr
from gradio.utils import get_upload_folder as gradio_uploads

from ..config import ServerSettings
from ..index import Index
from ..ingest.readers import SUFFIXES
from ..live import LiveIndex
from . import render
from .access import Access
from .backend import ChatBackend
from .conversation import Conversation
from .outputs import KEEP, Choices, Opened, PaneState, Seen
from .panels import message_html
from .sessions import BROWSER_COOKIE, browser_id

#: Seconds between refreshes of the index status, the "changed since" notices and the documents.
STATUS_INTERVAL = 1.0

#: Pages whose open conversation is remembered (the oldest forgotten first).
SESSIONS_KEPT = 10_000

#: Requests waiting in the queue before new ones are turned away.
QUEUE_SIZE = 256

#: Footer links at least 40 px high on phones (the footer is outside the page's scoped CSS).
_PHONE_FOOTER = (
    "<style>@media (max-width: 700px) { footer a, footer button { min-height: 40px; min-width: 40px; "
    "display: inline-flex; align-items: center; } }</style>"
)

#: What the question box says once it can be used.
ASK_PLACEHOLDER = "Ask a question about the articles…"

#: Example buttons under the chat (hidden where the corpus offers fewer questions).
EXAMPLE_BUTTONS = 3


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


def _pane(opened: Opened | None) -> tuple[Any, Any, Any, Any]:
    """The source pane's outputs: its HTML, shown, its state, and "download original"."""
    if opened is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    download = gr.update(value=opened.download, visible=opened.download is not None)
    return opened.html, gr.update(visible=True), opened.state, download


def _who(request: gr.Request | None) -> tuple[str | None, str]:
    """The signed-in user (under ``--auth``) and the browser's id, from a request."""
    if request is None:
        return None, ""
    cookies = getattr(request, "cookies", None) or {}
    username = getattr(request, "username", None)
    return (username if isinstance(username, str) and username else None), browser_id(cookies.get(BROWSER_COOKIE))


def build_app(
    index: Index | LiveIndex, server: ServerSettings = ServerSettings(), access: Access = Access()
) -> gr.Blocks:
    """The chat page plus the ``ask`` API endpoint, computing ``server.concurrency`` answers at once."""
    concurrency = server.concurrency
    # Gradio renders a warning's text as HTML: it is escaped like everything else shown.
    backend = ChatBackend(index, access=access, warn=lambda message: gr.Warning(html.escape(message)))

    def ask(question: str = "", k: int = 5, sources: list[str] | None = None) -> dict[str, Any]:
        """Answer a question with verbatim quotes; same JSON as `qa ask --json`."""
        return backend.ask(question, k, sources)

    # The conversation each page shows now, by Gradio session: an event that began with an
    # earlier one (a tick, an answer) must not draw it over the one opened since.
    showing: OrderedDict[str, str] = OrderedDict()

    def shown(request: gr.Request | None, conversation: Conversation) -> None:
        session = getattr(request, "session_hash", None)
        if session:
            showing[session] = conversation.id
            showing.move_to_end(session)
            while len(showing) > SESSIONS_KEPT:
                showing.popitem(last=False)

    def replaced(request: gr.Request | None, conversation: Conversation) -> bool:
        session = getattr(request, "session_hash", None)
        return isinstance(session, str) and showing.get(session, conversation.id) != conversation.id

    def restore(request: gr.Request) -> tuple[Any, ...]:
        conversation, page, export, listing = backend.restore(*_who(request))
        shown(request, conversation)
        examples = backend.examples()
        buttons = [
            gr.update(value=examples[n], visible=True) if n < len(examples) else gr.update(visible=False)
            for n in range(EXAMPLE_BUTTONS)
        ]
        # The question box opens once the person's conversation is in place (a question asked
        # before would be lost under it).
        box_ = gr.update(interactive=True, placeholder=ASK_PLACEHOLDER)
        # The status and the documents as they are now, not as they were when the server started.
        return (conversation, page, export, listing, box_, backend.status_html(), backend.documents_html(), *buttons)

    def start(message: str, conversation: Conversation, sources: list[str] | None) -> tuple[Any, ...]:
        return _gradio(*backend.start(message, conversation, sources))

    def answer(conversation: Conversation, request: gr.Request) -> tuple[Any, ...]:
        done = _gradio(*backend.finish(conversation))
        # Answered after the person opened another conversation: kept, but not drawn over it.
        return (gr.skip(), gr.skip(), gr.skip()) if replaced(request, conversation) else done

    def act(conversation: Conversation, request: gr.Request, event: gr.EventData) -> tuple[Any, ...]:
        page, opened = backend.act(conversation, getattr(event, "_data", None))
        return (*_gradio(KEEP if replaced(request, conversation) else page), *_pane(opened))

    def turn_page(conversation: Conversation, state: PaneState, event: gr.EventData) -> tuple[Any, ...]:
        opened = backend.turn_page(conversation, state, getattr(event, "_data", None))
        html_, _, state_, download = _pane(opened)
        return html_, state_, download

    def tick(
        conversation: Conversation, seen: Seen, chosen: list[str] | None, search: str, request: gr.Request
    ) -> tuple[Any, ...]:
        status_, page, filters_, seen_, documents_ = backend.tick(conversation, seen, chosen, search)
        if replaced(request, conversation):
            # Begun with the conversation shown before: its page and what it saw are out of date.
            page, seen_ = KEEP, KEEP
        return _gradio(status_, page, filters_, seen_, documents_)

    def new(conversation: Conversation, request: gr.Request) -> tuple[Any, ...]:
        opened = backend.new_conversation(conversation)
        shown(request, opened[0])
        return _gradio(*opened)

    def pick(conversation: Conversation, request: gr.Request, event: gr.EventData) -> tuple[Any, ...]:
        opened = backend.conversation_action(conversation, getattr(event, "_data", None))
        shown(request, opened[0])
        return _gradio(*opened)

    def add(files: list[str] | None, search: str) -> tuple[Any, ...]:
        # Gradio has checked these are uploads; checked again here, the one place files enter the corpus.
        uploads = Path(gradio_uploads()).resolve()
        received = [
            (Path(path).name, Path(path)) for path in files or [] if Path(path).resolve().is_relative_to(uploads)
        ]
        if len(received) != len(files or []):
            return (message_html("only files uploaded from this page can be added"), gr.skip(), None)
        said, documents = backend.upload(received, search)
        return (*_gradio(said, documents), None)

    def manage(conversation: Conversation, search: str, event: gr.EventData) -> tuple[Any, ...]:
        said, documents, opened = backend.document_action(conversation, getattr(event, "_data", None), search)
        return (*_gradio(said, documents), *_pane(opened))

    # No usage analytics: the bot runs offline and sends nothing anywhere. Files Gradio keeps
    # in its cache (exports, downloads, uploads) are deleted after a day.
    with gr.Blocks(title="Citation QA", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        conversation = gr.State(Conversation(), delete_callback=backend.forget)
        pane_state = gr.State(PaneState())
        # The page starts with the choices of now: the first tick has nothing to change.
        seen = gr.State(Seen(choices=tuple(backend.choices())))
        with gr.Sidebar(label="Conversations and documents", open=True, width=340, elem_id="qa-sidebar"):
            gr.Markdown("### Conversations")
            new_button = gr.Button("New conversation", size="sm", elem_id="qa-new-conversation")
            conversations = gr.HTML(render.e(""), elem_id="qa-conversations", js_on_load=_static("panels.js"))
            gr.Markdown("### Documents")
            if access.changes:
                # No file_types: a file of another type is refused by the panel with the reason,
                # where Gradio's own check would leave a bare "Error" on the drop zone.
                upload = gr.File(
                    label=f"Add documents ({', '.join(SUFFIXES)}; up to {access.limits.max_files} files of "
                    f"{access.limits.max_file_mb:g} MB)",
                    file_count="multiple",
                    elem_id="qa-upload",
                    height=120,
                )
            else:
                upload = gr.File(visible=False, elem_id="qa-upload")
                gr.HTML(f'<p class="qa-panel-message">{render.e(access.why_not)}</p>', elem_id="qa-read-only")
            added = gr.HTML("", elem_id="qa-added")
            search = gr.Textbox(
                placeholder="Search documents by name or title", show_label=False, elem_id="qa-doc-search", max_lines=1
            )
            documents = gr.HTML(backend.documents_html(), elem_id="qa-documents", js_on_load=_static("panels.js"))
        gr.Markdown(
            elem_id="qa-title",
            value="## Ask the articles\nEvery answer is a verbatim quote with its article, file, paragraph and lines; "
            "the sentence that best answers is marked. Click a citation to read it in its article.",
        )
        status = gr.HTML(backend.status_html(), elem_id="qa-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                page = gr.HTML(render.conversation_html([]), elem_id="qa-chat", js_on_load=_static("chat.js"))
                box = gr.Textbox(
                    label="Your question",
                    placeholder="Opening your conversation…",
                    interactive=False,
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
                        "Export conversation (Markdown)", value=None, elem_id="qa-export", scale=1, size="md"
                    )
                gr.Markdown("**Try one:**")
                with gr.Row(elem_id="qa-examples"):
                    examples = [
                        gr.Button("", size="sm", variant="secondary", visible=False) for _ in range(EXAMPLE_BUTTONS)
                    ]
            with gr.Column(scale=2, min_width=300, visible=False, elem_id="qa-source-pane") as pane_column:
                with gr.Row(elem_id="qa-pane-tools"):
                    download = gr.DownloadButton(
                        "Download original", value=None, size="sm", elem_id="qa-download", visible=False
                    )
                    close = gr.Button("Close the article", size="sm", elem_id="qa-source-close")
                source = gr.HTML("", elem_id="qa-source", js_on_load=_static("source.js"))
        # The status line, the "changed since" notices, the filter choices and the documents
        # follow background updates; a tick is cheap, so every open page gets its own.
        timer = gr.Timer(STATUS_INTERVAL)
        timer.tick(
            tick,
            [conversation, seen, filters, search],
            [status, page, filters, seen, documents],
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
        quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        finish: dict[str, Any] = {
            "fn": answer,
            "inputs": [conversation],
            "outputs": [page, export, conversations],
            "concurrency_limit": concurrency,
            # One limit for every way of asking (box, examples, clicks), not one each.
            "concurrency_id": "answer",
            **quiet,
        }
        # Showing a question or opening a citation takes milliseconds: no queue for those.
        instant: dict[str, Any] = {"concurrency_limit": None, **quiet}
        pane_outputs = [source, pane_column, pane_state, download]
        restored = [conversation, page, export, conversations, box, status, documents, *examples]
        demo.load(restore, None, restored, **instant).then(**finish)
        box.submit(start, [box, conversation, filters], [page, box], **instant).then(**finish)
        for button in examples:
            button.click(start, [button, conversation, filters], [page, box], **instant).then(**finish)
        page.click(act, [conversation], [page, *pane_outputs], **instant).then(**finish)
        source.click(turn_page, [conversation, pane_state], [source, pane_state, download], **instant)
        close.click(lambda: gr.update(visible=False), None, pane_column, **quiet)
        new_button.click(new, [conversation], [conversation, page, export, conversations], **instant)
        conversations.click(pick, [conversation], [conversation, page, export, conversations], **instant).then(**finish)
        upload.upload(add, [upload, search], [added, documents, upload], api_visibility="private", concurrency_limit=1)
        documents.click(manage, [conversation, search], [added, documents, *pane_outputs], **instant)
        search.change(backend.documents_html, [search], [documents], **instant)
        gr.api(ask, api_name="ask", concurrency_limit=concurrency)  # type: ignore[attr-defined]
    # Kept on the app, so that close_app can remove its files.
    demo.qa_backend = backend
    demo.queue(max_size=QUEUE_SIZE)
    return demo  # type: ignore[no-any-return]


def mount_options(server: ServerSettings = ServerSettings(), access: Access = Access()) -> dict[str, Any]:
    """What :func:`gradio.mount_gradio_app` needs besides the app, the page and auth.

    The page's CSS; no ``allowed_paths`` (no file under the corpus is served by path);
    uploads limited to ``server.max_upload``, or to the size of one document where the page
    may add documents (64 KB otherwise); Gradio's monitoring endpoint only if
    ``server.monitoring``; errors Gradio raises itself shown to the caller.
    """
    largest = server.max_upload or (f"{int(access.limits.max_file_mb * 1024)}kb" if access.changes else "64kb")
    # show_error: a request Gradio itself refuses (too few values) gets its message, not null.
    return {
        "css": _static("chat.css"),
        "max_file_size": largest,
        "enable_monitoring": server.monitoring,
        "show_error": True,
        # No "built with Gradio" link: the page runs offline and links nowhere outside.
        "footer_links": ["api", "settings"],
        # The footer lies outside the page's own (scoped) CSS: its links are touch-sized on phones here.
        "head": _PHONE_FOOTER,
    }


#: The ASGI application the page is mounted on (FastAPI, in :mod:`qa.web.server`).
App = TypeVar("App")


def mount(
    app: App,
    demo: gr.Blocks,
    *,
    auth: tuple[str, str] | None = None,
    server: ServerSettings = ServerSettings(),
    access: Access = Access(),
) -> App:
    """Mount the page ``demo`` at ``/`` of the ASGI application ``app``, behind ``auth`` if given."""
    mounted = cast(App, gr.mount_gradio_app(app, demo, path="/", auth=auth, **mount_options(server, access)))
    # Gradio checks that a file an event names was uploaded by a browser only once the page
    # counts as launched, which mounting alone does not mark: without this, one crafted event
    # could name any file of the server (read into the corpus) or /dev/zero (the server hangs).
    demo.has_launched = True
    return mounted


def close_app(demo: gr.Blocks) -> None:
    """Remove the files the page wrote for download (the server has stopped)."""
    backend = getattr(demo, "qa_backend", None)
    if isinstance(backend, ChatBackend):
        backend.close()
