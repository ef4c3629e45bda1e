"""HTML for the web chat: the conversation, the source pane and the index status.

Every piece of text that comes from a file, a file name or a person goes through
:func:`html.escape` here and nowhere is Markdown involved, so what a file says is shown
as text, never run as markup. Buttons carry ``data-action`` attributes that the page's
script (``qa/web/static/chat.js``) turns into events.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape

from ..answer.quotes import Quote
from ..ingest.readers.pdfpage import PageImage
from ..live import LiveStatus
from ..text.lines import line_spans
from .conversation import Turn, quote_text
from .sourceview import SourceView


def _e(text: object) -> str:
    """Escape text for HTML element content and quoted attribute values."""
    return escape(str(text), quote=True)


def marked(text: str, spans: Sequence[tuple[int, int]], css: str = "qa-answer") -> str:
    """``text`` escaped, with the ``spans`` wrapped in ``<mark class=css>``."""
    pieces, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        pieces += [_e(text[last:start]), f'<mark class="{css}">', _e(text[start:end]), "</mark>"]
        last = end
    pieces.append(_e(text[last:]))
    return "".join(pieces)


def _quote_html(number: int, key: str, quote: Quote, *, stale: bool, vote: str, found: bool) -> str:
    """One quote: its verbatim text (answering sentences marked), citation and actions."""
    body = marked(quote.text, quote.highlights if found else ())
    # The ranking score, in rank order; not shown for passages that probably do not answer.
    score = f' <span class="qa-score" title="ranking score">match {quote.score:.2f}</span>' if found else ""
    title = f'<span class="qa-title">{_e(quote.title)}</span> · ' if quote.title else ""
    also = ""
    if quote.also_in:
        also = '<div class="qa-also">Also in: ' + ", ".join(f"<code>{_e(c)}</code>" for c in quote.also_in) + "</div>"
    badge = (
        f'<div class="qa-stale" role="status">Changed since this answer — '
        f'<button type="button" class="qa-link" data-action="reask" data-turn="{number}">ask again</button></div>'
        if stale
        else ""
    )
    votes = "".join(
        f'<button type="button" class="qa-vote{" qa-voted" if vote == value else ""}" data-action="vote" '
        f'data-turn="{number}" data-quote="{key}" data-vote="{value}" aria-label="{label}" '
        f'aria-pressed="{"true" if vote == value else "false"}">{icon}</button>'
        for value, icon, label in (("up", "👍 Answers it", "Good quote"), ("down", "👎 Does not", "Wrong quote"))
    )
    return (
        f'<figure class="qa-quote" data-turn="{number}" data-quote="{key}">'
        f'<blockquote class="qa-text">{body}</blockquote>'
        f'<figcaption><button type="button" class="qa-cite" data-action="cite" data-turn="{number}" '
        f'data-quote="{key}">[{quote.rank}] {title}<span class="qa-where">{_e(quote.citation)}</span></button>'
        f"{score}</figcaption>"
        f"{also}{badge}"
        f'<div class="qa-actions"><button type="button" class="qa-copy" data-action="copy" '
        f'data-copy="{_e(quote_text(quote))}">Copy quote</button>{votes}</div>'
        "</figure>"
    )


def turn_html(turn: Turn, stale: frozenset[tuple[int, str]], votes: Mapping[tuple[int, str], str]) -> str:
    """One question and its answer; buttons name the turn by its id."""
    number = turn.id
    scope = f'<div class="qa-scope">Only in: {_e(", ".join(turn.sources))}</div>' if turn.sources else ""
    question = f'<div class="qa-question" data-turn="{number}"><p>{_e(turn.question)}</p>{scope}</div>'
    if turn.pending:
        return (
            f'<section class="qa-turn">{question}<div class="qa-answer-block qa-searching" role="status" '
            'aria-live="polite"><span class="qa-spinner" aria-hidden="true"></span> Searching the articles…</div>'
            "</section>"
        )
    searched = (
        f'<div class="qa-searched"><label for="qa-searched-{number}">Searched for:</label> '
        f'<input id="qa-searched-{number}" class="qa-searched-input" value="{_e(turn.searched)}" '
        f'data-turn="{number}" aria-label="Searched for (edit and search again)">'
        f'<button type="button" class="qa-link" data-action="rerun" data-turn="{number}">Search again</button></div>'
    )
    if turn.error or turn.answer is None:
        return (
            f'<section class="qa-turn">{question}<div class="qa-answer-block">{searched}'
            f'<p class="qa-error" role="alert">⚠ {_e(turn.error)}</p></div></section>'
        )
    answer = turn.answer
    changed = any((number, f"q{q.rank}") in stale or (number, f"m{q.rank}") in stale for q in turn.quotes())
    status = "qa-found" if answer.found else "qa-not-found"
    parts = [f'<p class="qa-message {status}">{"" if answer.found else "⚠ "}{_e(answer.message)}</p>']
    if changed:
        parts.append(
            '<div class="qa-stale qa-stale-turn" role="status">A file quoted here changed since this answer — '
            f'<button type="button" class="qa-link" data-action="reask" data-turn="{number}">ask again</button></div>'
        )

    def quote(prefix: str, q: Quote) -> str:
        key = f"{prefix}{q.rank}"
        return _quote_html(
            number, key, q, stale=(number, key) in stale, vote=votes.get((number, key), ""), found=answer.found
        )

    parts += [quote("q", q) for q in answer.quotes]
    if answer.more:
        noun = "passage" if len(answer.more) == 1 else "passages"
        inner = "".join(quote("m", q) for q in answer.more)
        parts.append(
            f'<details class="qa-more" data-turn="{number}">'
            f"<summary>{len(answer.more)} more {noun} (less likely to answer)</summary>"
            f"{inner}</details>"
        )
    parts += [f'<p class="qa-warning">ℹ {_e(w)}</p>' for w in answer.warnings]
    return f'<section class="qa-turn">{question}<div class="qa-answer-block">{searched}{"".join(parts)}</div></section>'


def conversation_html(
    turns: Sequence[Turn],
    stale: frozenset[tuple[int, str]] = frozenset(),
    votes: Mapping[tuple[int, str], str] | None = None,
) -> str:
    """The whole conversation, oldest first."""
    if not turns:
        return (
            '<div class="qa-log" data-turns="0"><p class="qa-empty">Ask a question: every answer is a verbatim '
            "quote with its article, file, paragraph and lines. Click a citation to see it in its article.</p></div>"
        )
    body = "".join(turn_html(t, stale, votes or {}) for t in turns)
    return f'<div class="qa-log" data-turns="{turns[-1].id + 1}">{body}</div>'


def source_html(view: SourceView) -> str:
    """The source pane: title, file, the whole current text with line numbers, the quote marked."""
    notice = ""
    if view.changed and view.start_char < 0:
        notice = (
            '<p class="qa-stale" role="status">This file changed since the answer, and the quoted paragraph '
            "is no longer in it. Showing the file as it is now.</p>"
        )
    elif view.changed:
        notice = (
            '<p class="qa-stale" role="status">This file changed since the answer. Showing it as it is now; '
            "the quoted paragraph is marked where it is now.</p>"
        )
    facts = []
    if view.section:
        facts.append(f"section “{_e(view.section)}”")
    if view.date:
        facts.append(f"dated {_e(view.date)}")
    if view.kind in ("html", "docx"):
        facts.append("the text as read from the file")
    about = f'<p class="qa-source-about">{" · ".join(facts)}</p>' if facts else ""
    header = (
        f'<div class="qa-source-view" data-source="{_e(view.source)}" data-kind="{_e(view.kind)}">'
        f'<h3 class="qa-source-title">{_e(view.title or view.source)}</h3>'
        f'<p class="qa-source-file"><code>{_e(view.source)}</code> · cited as <code>{_e(view.citation)}</code></p>'
        f"{about}{notice}"
    )
    if view.pages:
        return f'{header}<div class="qa-source-body qa-pages">{"".join(_page(view, p) for p in view.pages)}</div></div>'
    rows = []
    # Lines end at LF, CRLF or a bare CR (old Mac files), as the citations count them.
    for number, (start, end) in enumerate(line_spans(view.text), start=1):
        line = view.text[start:end]
        inside = view.start_char <= start < view.end_char or start <= view.start_char < max(end, start + 1)
        rows.append(
            f'<tr id="qa-line-{number}"{" class=qa-in-quote" if inside else ""}>'
            f'<td class="qa-lno">{number}</td><td class="qa-line">{_line(view, line, start, end)}</td></tr>'
        )
    return (
        f'{header}<div class="qa-source-body"><table class="qa-lines"><tbody>{"".join(rows)}</tbody></table></div>'
        "</div>"
    )


def _page(view: SourceView, page: PageImage) -> str:
    """One rendered PDF page (a PNG made here, sent as data) with boxes over the quoted lines."""
    image = base64.b64encode(page.png).decode("ascii")
    boxes = "".join(
        f'<span class="qa-box qa-box-{_e(box.kind)}" style="left:{box.left * 100:.3f}%;top:{box.top * 100:.3f}%;'
        f'width:{box.width * 100:.3f}%;height:{box.height * 100:.3f}%"></span>'
        for box in page.boxes
    )
    note = ""
    if page.rotated:
        note = '<p class="qa-stale">This page is rotated: the quoted lines are not marked on it.</p>'
    return (
        f'<figure class="qa-page" data-page="{page.page}">{note}<div class="qa-page-frame">'
        f'<img class="qa-page-image" src="data:image/png;base64,{image}" width="{page.width}" '
        f'height="{page.height}" alt="Page {page.page} of {_e(view.source)}">{boxes}</div>'
        f"<figcaption>Page {page.page}</figcaption></figure>"
    )


def _line(view: SourceView, line: str, start: int, end: int) -> str:
    """One line of the source, with the quoted paragraph and its answering sentences marked."""
    lo, hi = max(view.start_char, start), min(view.end_char, end)
    if view.start_char < 0 or lo >= hi:
        return _e(line) if line else "&#8203;"
    inner = [(max(s, lo) - lo, min(e, hi) - lo) for s, e in view.highlights if s < hi and e > lo]
    quoted = marked(line[lo - start : hi - start], inner)
    return f'{_e(line[: lo - start])}<span class="qa-para">{quoted}</span>{_e(line[hi - start :])}'


def source_message_html(message: str) -> str:
    """The source pane when the article cannot be shown."""
    return f'<div class="qa-source-view"><p class="qa-error" role="alert">⚠ {_e(message)}</p></div>'


def status_html(status: LiveStatus, model: str) -> str:
    """The index status: files, paragraphs, model, last update, and what is running."""
    when = dt.datetime.fromtimestamp(status.updated).strftime("%Y-%m-%d %H:%M:%S") if status.updated else "–"
    state = {"updating": "qa-updating", "failed": "qa-failed"}.get(status.state, "qa-ready")
    # "Up to date: N paragraphs." says the count already; the other states do not.
    paragraphs = "" if status.state == "ready" else f" · {status.passages} paragraphs"
    return (
        f'<div class="qa-status-line {state}" role="status"><strong>Index:</strong> {_e(status.describe())} '
        f'<span class="qa-status-facts">{status.files} files{paragraphs} · model '
        f"<code>{_e(model)}</code> · last update {when}</span></div>"
    )
