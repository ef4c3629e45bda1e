"""The web chat (Gradio); the only module that imports gradio."""

from __future__ import annotations

import html
import logging
import re
from typing import Any
from urllib.parse import quote as url_quote

import gradio as gr

from .answers import Answer, Quote
from .errors import QAError
from .index import Index
from .live import LiveIndex

log = logging.getLogger(__name__)

#: Questions offered as clickable examples under the chat.
EXAMPLES = [
    "Who directs the Basra Cultural Center?",
    "What is the Mosul-Palestine Cultural Bridge project?",
    "What kind of aid do organizations in Isfahan send to Gaza?",
    "What is the capital of France?",
]

#: Seconds between refreshes of the index status line on the page.
STATUS_INTERVAL = 1.0

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>=])")

CSS = """
mark { background: #fff3a3; color: inherit; padding: 0 .1em; border-radius: 2px; }
.qa-sources { font-size: 0.95em; }
"""


def escape(text: str) -> str:
    """Escape text so that Markdown and HTML show it exactly as written."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("$", "&#36;")


def quote_markdown(quote: Quote) -> str:
    """One quote as a Markdown block quote with its highlighted sentences and citation."""
    text, pieces, last = quote.text, [], 0
    for start, end in sorted(quote.highlights):
        pieces += [escape(text[last:start]), "<mark>", escape(text[start:end]), "</mark>"]
        last = end
    pieces.append(escape(text[last:]))
    body = "".join(pieces)
    lines = ["> " + line if line.strip() else ">" for line in body.splitlines()]
    meta = f"**[{quote.rank}]** `{quote.citation}`"
    if quote.dense_score is not None:
        meta += f" · similarity {quote.dense_score:.2f}"
    if quote.also_in:
        meta += " · also in: " + ", ".join(f"`{c}`" for c in quote.also_in)
    return meta + "\n\n" + "\n".join(lines)


def answer_markdown(answer: Answer) -> str:
    """The whole answer as the chat shows it."""
    parts = [f"**{answer.message}**" if answer.found else f"⚠️ **{answer.message}**"]
    parts += [quote_markdown(q) for q in answer.quotes]
    parts += [f"ℹ️ {escape(w)}" for w in answer.warnings]
    return "\n\n".join(parts)


def sources_markdown(answer: Answer | None, index: Index) -> str:
    """The side panel: which files and paragraphs the answer quoted, with links to open them."""
    corpus = index.manifest.corpus_label or index.corpus
    header = f"### Sources\n{len(index)} paragraphs indexed from `{corpus}` · model `{index.manifest.model}`"
    if answer is None or not answer.quotes:
        return header + "\n\nAsk a question to see which paragraphs answer it."
    rows = []
    label = "Quoted" if answer.found else "Closest (probably not an answer)"
    for quote in answer.quotes:
        path = index.corpus / quote.source
        link = f"/gradio_api/file={url_quote(str(path))}"
        rows.append(f"{quote.rank}. [{escape(quote.source)}]({link}) — ¶{quote.paragraph}, {quote.passage.lines}")
        rows += [f"    - also: `{c}`" for c in quote.also_in]
    return f"{header}\n\n**{label}:**\n\n" + "\n".join(rows)


class ChatBackend:
    """Answers questions from a live index that updates itself in the background."""

    def __init__(self, index: Index | LiveIndex) -> None:
        """Serve answers from ``index`` (wrapped in a :class:`LiveIndex` if it is a plain state)."""
        if isinstance(index, Index):
            index = LiveIndex(index.folder, index.corpus, settings=index.settings, index=index)
        self.live = index

    @property
    def index(self) -> Index:
        """The state answers come from now."""
        return self.live.current()

    def status_markdown(self) -> str:
        """The status line under the chat: up to date, updating (with progress) or failed."""
        status = self.live.status()
        # Words, not emoji: a browser without an emoji font shows those as empty boxes.
        return f"**Index:** {escape(status.describe())}"

    def ask(self, question: str, k: int | None = None) -> dict[str, Any]:
        """The answer as JSON data (what ``qa ask --json`` prints); errors as ``{"error"}``."""
        try:
            return self.index.answer(question, k).to_dict()
        except QAError as exc:
            return {"question": question, "found": False, "quotes": [], "error": str(exc)}

    def respond(self, message: str, history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str, str]:
        """Chat handler: append the question and the quoted answer; update the sources panel."""
        history = [*history, {"role": "user", "content": message}]
        index = self.index
        try:
            answer = index.answer(message)
            reply, sources = answer_markdown(answer), sources_markdown(answer, index)
        except QAError as exc:
            reply, sources = f"⚠️ {escape(str(exc))}", sources_markdown(None, index)
        except Exception:
            log.exception("failed to answer %r", message)
            reply = "⚠️ Something went wrong while answering; the details are in the server log."
            sources = sources_markdown(None, index)
        return [*history, {"role": "assistant", "content": reply}], "", sources


def build_app(index: Index | LiveIndex) -> gr.Blocks:
    """The chat page plus the ``ask`` API endpoint."""
    backend = ChatBackend(index)
    first = backend.index

    def ask(question: str, k: int = 3) -> dict[str, Any]:
        """Answer a question with verbatim quotes; same JSON as `qa ask --json`."""
        return backend.ask(question, int(k))

    # No usage analytics: the bot runs offline and sends nothing anywhere.
    with gr.Blocks(title="Citation QA", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask the articles\nEvery answer is a verbatim quote with its file, paragraph and lines. "
            "The sentence that best answers is <mark>highlighted</mark>."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Answers", height=640, latex_delimiters=[], buttons=["copy"])
                box = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False, submit_btn=True)
                gr.Examples(EXAMPLES, inputs=box, label="Try one")
            with gr.Column(scale=2):
                sources = gr.Markdown(sources_markdown(None, first), elem_classes="qa-sources")
                status = gr.Markdown(backend.status_markdown(), elem_classes="qa-status")
        # The status line follows background updates: files pending, progress, failures.
        timer = gr.Timer(STATUS_INTERVAL)
        timer.tick(backend.status_markdown, None, status, api_visibility="private", show_progress="hidden")
        box.submit(backend.respond, [box, chat], [chat, box, sources], api_visibility="private")
        gr.api(ask, api_name="ask")  # type: ignore[attr-defined]
    return demo  # type: ignore[no-any-return]


def serve(live: LiveIndex, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Launch the chat, watching the corpus in the background, and block until interrupted."""
    live.start()
    demo = build_app(live)
    try:
        demo.launch(server_name=host, server_port=port, css=CSS, allowed_paths=[str(live.corpus)])
    finally:
        live.stop()
