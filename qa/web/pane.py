"""HTML of the source pane: an article as it reads now, the quoted paragraph marked; a PDF page by page.

Everything from a file goes through :func:`qa.web.render.e`. The pane's buttons carry
``data-action`` attributes that ``qa/web/static/source.js`` turns into events (another
page) or handles on the page itself (zoom).
"""

from __future__ import annotations

import base64

from ..ingest.readers.pdfpage import PageImage
from ..text.lines import line_spans
from ..text.visible import visible
from .render import e, marked
from .sourceview import SourceView


def source_html(view: SourceView) -> str:
    """The source pane: title, file, the whole current text with line numbers (or a PDF page), the quote marked."""
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
        facts.append(f"section “{e(view.section)}”")
    if view.date:
        facts.append(f"dated {e(view.date)}")
    if view.kind in ("html", "docx"):
        facts.append("the text as read from the file")
    about = f'<p class="qa-source-about">{" · ".join(facts)}</p>' if facts else ""
    cited = f" · cited as <code>{e(view.citation)}</code>" if view.citation else ""
    header = (
        f'<div class="qa-source-view" data-source="{e(view.source)}" data-kind="{e(view.kind)}" '
        f'data-page="{view.page}">'
        f'<h3 class="qa-source-title">{e(view.title or visible(view.source))}</h3>'
        f'<p class="qa-source-file"><code>{e(visible(view.source))}</code>{cited}</p>'
        f"{about}{notice}"
    )
    if view.pages:
        return f"{header}{_toolbar(view)}{''.join(_page(view, p) for p in view.pages)}</div>"
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


def _toolbar(view: SourceView) -> str:
    """A PDF's page controls (previous, page number, next, the quoted page) and zoom."""
    page, count = view.page, view.page_count
    back = f'data-action="page" data-page="{page - 1}"' + (" disabled" if page <= 1 else "")
    ahead = f'data-action="page" data-page="{page + 1}"' + (" disabled" if page >= count else "")
    quoted = ""
    if view.quoted_pages and page not in view.quoted_pages:
        quoted = (
            f'<button type="button" class="qa-tool" data-action="page" data-page="{view.quoted_pages[0]}">'
            f"Back to the quote (p. {view.quoted_pages[0]})</button>"
        )
    return (
        '<div class="qa-toolbar" role="toolbar" aria-label="Page and zoom">'
        f'<button type="button" class="qa-tool" {back} aria-label="Previous page">◀ Previous</button>'
        f'<label class="qa-page-number">Page <input type="number" class="qa-page-input" min="1" max="{count}" '
        f'value="{page}" aria-label="Page number"> of {count}</label>'
        f'<button type="button" class="qa-tool" {ahead} aria-label="Next page">Next ▶</button>{quoted}'
        '<span class="qa-zoom" role="group" aria-label="Zoom">'
        '<button type="button" class="qa-tool" data-zoom="-1" aria-label="Zoom out">−</button>'
        '<span class="qa-zoom-level" aria-live="polite">100%</span>'
        '<button type="button" class="qa-tool" data-zoom="1" aria-label="Zoom in">+</button>'
        '<button type="button" class="qa-tool" data-zoom="0" aria-label="Fit the width">Fit</button></span></div>'
    )


def _page(view: SourceView, page: PageImage) -> str:
    """One rendered PDF page (a PNG made here, sent as data) with boxes over the quoted lines, and its text."""
    image = base64.b64encode(page.png).decode("ascii")
    boxes = "".join(
        f'<span class="qa-box qa-box-{e(box.kind)}" style="left:{box.left * 100:.3f}%;top:{box.top * 100:.3f}%;'
        f'width:{box.width * 100:.3f}%;height:{box.height * 100:.3f}%"></span>'
        for box in page.boxes
    )
    note = ""
    if page.rotated:
        note = '<p class="qa-stale">This page is rotated: the quoted lines are not marked on it.</p>'
    text = (
        f'<details class="qa-page-text" open><summary>Text of page {page.page}</summary>'
        f'<div class="qa-page-words">{_marked_page_text(view)}</div></details>'
        if view.page_text
        else '<p class="qa-source-about">This page has no text layer.</p>'
    )
    return (
        f'<figure class="qa-page" data-page="{page.page}">{note}<div class="qa-source-body qa-page-scroll">'
        f'<div class="qa-page-frame"><img class="qa-page-image" src="data:image/png;base64,{image}" '
        f'width="{page.width}" height="{page.height}" alt="Page {page.page} of {e(visible(view.source))}">'
        f"{boxes}</div></div>"
        f"<figcaption>Page {page.page} of {view.page_count}</figcaption>{text}</figure>"
    )


def _marked_page_text(view: SourceView) -> str:
    """The shown page's text, with the quoted paragraph marked where it is on this page."""
    text, offset = view.page_text, view.page_start
    if view.start_char < 0:
        return e(text)
    lo, hi = max(view.start_char, offset), min(view.end_char, offset + len(text))
    if lo >= hi:
        return e(text)
    before, quoted, after = text[: lo - offset], text[lo - offset : hi - offset], text[hi - offset :]
    return f'{e(before)}<span class="qa-para">{e(quoted)}</span>{e(after)}'


def _line(view: SourceView, line: str, start: int, end: int) -> str:
    """One line of the source, with the quoted paragraph and its answering sentences marked."""
    lo, hi = max(view.start_char, start), min(view.end_char, end)
    if view.start_char < 0 or lo >= hi:
        return e(line)
    inner = [(max(s, lo) - lo, min(en, hi) - lo) for s, en in view.highlights if s < hi and en > lo]
    quoted = marked(line[lo - start : hi - start], inner)
    return f'{e(line[: lo - start])}<span class="qa-para">{quoted}</span>{e(line[hi - start :])}'


def source_message_html(message: str) -> str:
    """The source pane when the article cannot be shown."""
    return f'<div class="qa-source-view"><p class="qa-error" role="alert">⚠ {e(message)}</p></div>'
