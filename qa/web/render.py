"""HTML for the web chat: the conversation and the index status (the source pane: :mod:`qa.web.pane`).

Every piece of text that comes from a file, a file name or a person goes through
:func:`html.escape` here and nowhere is Markdown involved, so what a file says is shown
as text, never run as markup. Buttons carry ``data-action`` attributes that the page's
script (``qa/web/static/chat.js``) turns into events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape

from ..answer.quotes import Quote
from ..live import LiveStatus
from ..text.visible import visible
from .conversation import Notice, Turn, quote_text


def e(text: object) -> str:
    """Escape text for HTML element content and quoted attribute values."""
    return escape(str(text), quote=True)


def marked(text: str, spans: Sequence[tuple[int, int]], css: str = "qa-answer") -> str:
    """``text`` escaped, with the ``spans`` wrapped in ``<mark class=css>``."""
    pieces, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        pieces += [e(text[last:start]), f'<mark class="{css}">', e(text[start:end]), "</mark>"]
        last = end
    pieces.append(e(text[last:]))
    return "".join(pieces)


#: Characters of a quote shown in its citation's preview.
PREVIEW_CHARS = 240


def _preview(quote: Quote) -> str:
    """The first lines of a quote and its place, shown when its citation is hovered or focused."""
    text = " ".join(quote.text[: PREVIEW_CHARS + 1].split())
    if len(quote.text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS].rsplit(" ", 1)[0] + "…"
    return f'<span class="qa-preview-text">{e(text)}</span><span class="qa-preview-place">{e(quote.citation)}</span>'


def _notice_html(number: int, notice: Notice | None) -> str:
    """Why an earlier answer's quote is flagged: its paragraph changed or went, or moved (and where to)."""
    if notice is None:
        return ""
    if notice.moved:
        said = f"Moved since this answer: the same paragraph is now at {e(notice.now)}"
    else:
        said = "Changed since this answer"
    return (
        f'<div class="qa-stale" role="status">{said} — <button type="button" class="qa-link" data-action="reask" '
        f'data-turn="{number}">ask again</button></div>'
    )


def _quote_html(number: int, key: str, quote: Quote, *, notice: Notice | None, vote: str, found: bool) -> str:
    """One quote: its verbatim text (answering sentences marked), citation with its preview, and actions."""
    body = marked(quote.text, quote.highlights if found else ())
    # The ranking score, in rank order; not shown for passages that probably do not answer.
    score = f' <span class="qa-score" title="ranking score">match {quote.score:.2f}</span>' if found else ""
    title = f'<span class="qa-title">{e(quote.title)}</span> · ' if quote.title else ""
    also = ""
    if quote.also_in:
        also = '<div class="qa-also">Also in: ' + ", ".join(f"<code>{e(c)}</code>" for c in quote.also_in) + "</div>"
    votes = "".join(
        f'<button type="button" class="qa-vote{" qa-voted" if vote == value else ""}" data-action="vote" '
        f'data-turn="{number}" data-quote="{key}" data-vote="{value}" aria-label="{label}" '
        f'aria-pressed="{"true" if vote == value else "false"}">{icon}</button>'
        for value, icon, label in (("up", "👍 Answers it", "Good quote"), ("down", "👎 Does not", "Wrong quote"))
    )
    if vote:
        votes += (
            f'<button type="button" class="qa-unvote" data-action="unvote" data-turn="{number}" '
            f'data-quote="{key}">Take my vote back</button>'
        )
    preview = f"qa-preview-{number}-{key}"
    return (
        f'<figure class="qa-quote" data-turn="{number}" data-quote="{key}">'
        f'<blockquote class="qa-text">{body}</blockquote>'
        f'<figcaption><button type="button" class="qa-cite" data-action="cite" data-turn="{number}" '
        f'data-quote="{key}" aria-describedby="{preview}">[{quote.rank}] {title}'
        f'<span class="qa-where">{e(quote.citation)}</span></button>'
        f'<span class="qa-preview" role="tooltip" id="{preview}">{_preview(quote)}</span>'
        f"{score}</figcaption>"
        f"{also}{_notice_html(number, notice)}"
        f'<div class="qa-actions"><button type="button" class="qa-copy" data-action="copy" '
        f'data-copy="{e(quote_text(quote))}">Copy quote</button>{votes}</div>'
        "</figure>"
    )


def turn_html(turn: Turn, stale: Mapping[tuple[int, str], Notice], votes: Mapping[tuple[int, str], str]) -> str:
    """One question and its answer; buttons name the turn by its id."""
    number = turn.id
    scope = f'<div class="qa-scope">Only in: {e(visible(", ".join(turn.sources)))}</div>' if turn.sources else ""
    question = f'<div class="qa-question" data-turn="{number}"><p>{e(turn.question)}</p>{scope}</div>'
    if turn.pending:
        return (
            f'<section class="qa-turn">{question}<div class="qa-answer-block qa-searching" role="status" '
            'aria-live="polite"><span class="qa-spinner" aria-hidden="true"></span> Searching the articles…</div>'
            "</section>"
        )
    searched = (
        f'<div class="qa-searched"><label for="qa-searched-{number}">Searched for:</label> '
        f'<input id="qa-searched-{number}" class="qa-searched-input" value="{e(turn.searched)}" '
        f'data-turn="{number}" aria-label="Searched for (edit and search again)">'
        f'<button type="button" class="qa-link" data-action="rerun" data-turn="{number}">Search again</button></div>'
    )
    if turn.error or turn.answer is None:
        return (
            f'<section class="qa-turn">{question}<div class="qa-answer-block">{searched}'
            f'<p class="qa-error" role="alert">⚠ {e(turn.error)}</p></div></section>'
        )
    answer = turn.answer
    flagged = [
        stale[(number, f"{p}{q.rank}")]
        for p, g in (("q", answer.quotes), ("m", answer.more))
        for q in g
        if (number, f"{p}{q.rank}") in stale
    ]
    status = "qa-found" if answer.found else "qa-not-found"
    parts = [f'<p class="qa-message {status}">{"" if answer.found else "⚠ "}{e(answer.message)}</p>']
    if any(not notice.moved for notice in flagged):
        parts.append(
            '<div class="qa-stale qa-stale-turn" role="status">A paragraph quoted here changed since this answer — '
            f'<button type="button" class="qa-link" data-action="reask" data-turn="{number}">ask again</button></div>'
        )

    def quote(prefix: str, q: Quote) -> str:
        key = f"{prefix}{q.rank}"
        return _quote_html(
            number, key, q, notice=stale.get((number, key)), vote=votes.get((number, key), ""), found=answer.found
        )

    if answer.found:
        parts += [quote("q", q) for q in answer.quotes]
        if answer.more:
            noun = "passage" if len(answer.more) == 1 else "passages"
            inner = "".join(quote("m", q) for q in answer.more)
            parts.append(
                f'<details class="qa-more" data-turn="{number}">'
                f"<summary>{len(answer.more)} more {noun} (less likely to answer)</summary>"
                f"{inner}</details>"
            )
    elif answer.quotes:
        # Nothing answers: the closest passages, as many as an answer would quote, out of the way.
        noun = "passage" if len(answer.quotes) == 1 else "passages"
        inner = "".join(quote("q", q) for q in answer.quotes)
        parts.append(
            f'<details class="qa-more qa-closest" data-turn="{number}">'
            f"<summary>The {len(answer.quotes)} closest {noun} (probably not an answer)</summary>{inner}</details>"
        )
    parts += [f'<p class="qa-warning">ℹ {e(w)}</p>' for w in answer.warnings]
    return f'<section class="qa-turn">{question}<div class="qa-answer-block">{searched}{"".join(parts)}</div></section>'


def conversation_html(
    turns: Sequence[Turn],
    stale: Mapping[tuple[int, str], Notice] | None = None,
    votes: Mapping[tuple[int, str], str] | None = None,
) -> str:
    """The whole conversation, oldest first."""
    if not turns:
        return (
            '<div class="qa-log" data-turns="0"><p class="qa-empty">Ask a question: every answer is a verbatim '
            "quote with its article, file, paragraph and lines. Click a citation to see it in its article.</p></div>"
        )
    body = "".join(turn_html(t, stale or {}, votes or {}) for t in turns)
    return f'<div class="qa-log" data-turns="{turns[-1].id + 1}">{body}</div>'


def status_html(status: LiveStatus, model: str) -> str:
    """The index status: files, paragraphs, model, last update, and what is running."""
    when = dt.datetime.fromtimestamp(status.updated).strftime("%Y-%m-%d %H:%M:%S") if status.updated else "–"
    state = {"updating": "qa-updating", "failed": "qa-failed"}.get(status.state, "qa-ready")
    # "Up to date: N paragraphs." says the count already; the other states do not.
    paragraphs = "" if status.state == "ready" else f" · {status.passages} paragraphs"
    return (
        f'<div class="qa-status-line {state}" role="status"><strong>Index:</strong> {e(status.describe())} '
        f'<span class="qa-status-facts">{status.files} files{paragraphs} · model '
        f"<code>{e(model)}</code> · last update {when}</span></div>"
    )
