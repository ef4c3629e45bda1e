"""HTML of the side panels: a person's conversations, and the documents of the corpus.

Everything from a file name, a title or a person goes through :func:`qa.web.render.e`.
Buttons carry ``data-action`` attributes that ``qa/web/static/panels.js`` turns into events
(asking first where something is removed or deleted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..store.catalog import DocumentInfo
from ..store.conversations import Summary
from ..text.titles import readable_title
from .render import e
from .uploads import Added

#: Documents listed at most (a search narrows a longer list).
LISTED = 200


def _when(seconds: float | None) -> str:
    """A time as people read it, to the minute (``–`` if unknown)."""
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M") if seconds else "–"


def _title(doc: DocumentInfo) -> str:
    """A document's title as its quotes give it: its own, else from its name or first lines."""
    return readable_title(doc.source, doc.lead, doc.title) or doc.source.rsplit("/", 1)[-1]


def conversations_html(summaries: Sequence[Summary], open_id: str) -> str:
    """The list of a person's conversations, latest first, the open one marked (empty ones are not listed)."""
    # A conversation with no question yet is listed only while it is open.
    summaries = [s for s in summaries if s.turns or s.id == open_id]
    if not summaries:
        return '<div class="qa-convs"><p class="qa-empty">No saved conversations yet.</p></div>'
    items = []
    for summary in summaries:
        title = summary.title or "New conversation"
        current = summary.id == open_id
        noun = "question" if summary.turns == 1 else "questions"
        items.append(
            f'<li class="qa-conv{" qa-conv-open" if current else ""}" data-conversation="{e(summary.id)}">'
            f'<button type="button" class="qa-conv-open-button" data-action="open" data-conversation="{e(summary.id)}"'
            f'{" aria-current=true" if current else ""}><span class="qa-conv-title">{e(title)}</span>'
            f'<span class="qa-conv-date">{_when(summary.updated)} · {summary.turns} {noun}</span></button>'
            f'<span class="qa-conv-actions">'
            f'<button type="button" class="qa-tool" data-action="rename" data-conversation="{e(summary.id)}" '
            f'data-title="{e(title)}" aria-label="Rename “{e(title)}”">✎</button>'
            f'<button type="button" class="qa-tool" data-action="delete" data-conversation="{e(summary.id)}" '
            f'data-title="{e(title)}" aria-label="Delete “{e(title)}”">🗑</button></span></li>'
        )
    return f'<div class="qa-convs"><ul class="qa-conv-list">{"".join(items)}</ul></div>'


def documents_html(documents: Sequence[DocumentInfo], query: str = "", *, changes: bool = True) -> str:
    """The documents of the corpus (those whose name or title holds ``query``), skipped ones with their reason."""
    wanted = query.strip().casefold()
    shown = [d for d in documents if not wanted or wanted in d.source.casefold() or wanted in _title(d).casefold()]
    if not shown:
        said = "No document matches." if wanted else "No documents yet: add some above."
        return f'<div class="qa-docs" data-count="0"><p class="qa-empty">{said}</p></div>'
    rows = [_document(d, changes=changes) for d in shown[:LISTED]]
    more = (
        f'<p class="qa-source-about">{len(shown) - LISTED} more: search to narrow the list.</p>'
        if len(shown) > LISTED
        else ""
    )
    indexed = sum(d.skipped is None for d in documents)
    summary = f'<p class="qa-doc-count">{indexed} indexed, {len(documents) - indexed} skipped</p>'
    listed = f'<ul class="qa-doc-list">{"".join(rows)}</ul>'
    return f'<div class="qa-docs" data-count="{len(shown)}">{summary}{listed}{more}</div>'


def _document(doc: DocumentInfo, *, changes: bool) -> str:
    """One document: title, file, format, paragraphs, pages, last indexed; open and remove."""
    facts = [doc.kind.upper() or "file"]
    if doc.skipped is None:
        facts.append(f"{doc.paragraphs} paragraph{'' if doc.paragraphs == 1 else 's'}")
        if doc.pages:
            facts.append(f"{doc.pages} page{'' if doc.pages == 1 else 's'}")
    facts.append(f"indexed {_when(doc.indexed)}")
    title = _title(doc)
    source = e(doc.source)
    opener = (
        f'<button type="button" class="qa-doc-open" data-action="view" data-source="{source}" '
        f'aria-label="Open {e(title)}">{e(title)}</button>'
        if doc.skipped is None
        else f'<span class="qa-doc-title">{e(title)}</span>'
    )
    skipped = f'<p class="qa-doc-skipped">Skipped: {e(doc.skipped)}</p>' if doc.skipped is not None else ""
    remove = (
        f'<button type="button" class="qa-tool qa-doc-remove" data-action="remove" data-source="{source}" '
        f'aria-label="Remove {source}">Remove</button>'
        if changes
        else ""
    )
    return (
        f'<li class="qa-doc{" qa-doc-skipped-row" if doc.skipped is not None else ""}" data-source="{source}">'
        f'{opener}<code class="qa-doc-file">{source}</code>'
        f'<span class="qa-doc-facts">{e(" · ".join(facts))}</span>{skipped}{remove}</li>'
    )


def added_html(added: Sequence[Added], paragraphs: dict[str, int], skipped: dict[str, str]) -> str:
    """What became of each file of an upload: N paragraphs, a duplicate, or why it was refused or skipped."""
    rows = []
    for item in added:
        if item.outcome == "added" and item.source in paragraphs:
            count = paragraphs[item.source]
            said, css = f"added as <code>{e(item.source)}</code>: {count} paragraph{'' if count == 1 else 's'}", "ok"
        elif item.outcome == "added" and item.source in skipped:
            said, css = f"added as <code>{e(item.source)}</code> but skipped: {e(skipped[item.source])}", "bad"
        elif item.outcome == "added":
            said, css = f"added as <code>{e(item.source)}</code>; indexing…", "ok"
        elif item.outcome == "duplicate":
            said, css = e(item.reason), "same"
        else:
            said, css = f"not added: {e(item.reason)}", "bad"
        rows.append(f'<li class="qa-added qa-added-{css}"><strong>{e(item.name)}</strong> — {said}</li>')
    return f'<ul class="qa-added-list" role="status">{"".join(rows)}</ul>' if rows else ""


def message_html(message: str) -> str:
    """A one-line message in a panel (a refusal, an error)."""
    return f'<p class="qa-panel-message" role="alert">{e(message)}</p>'
