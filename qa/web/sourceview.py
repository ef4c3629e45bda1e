"""The source pane's view of an article: the file as it reads now, the quoted paragraph found in it, PDF pages drawn."""

from __future__ import annotations

from dataclasses import dataclass

from ..answer.quotes import Quote, place_in, title_of
from ..errors import CorpusError
from ..index import Index
from ..ingest.files import ReadFile, read_file
from ..ingest.readers import UnreadableError
from ..ingest.readers.pdfpage import PageImage, render_pages


@dataclass(frozen=True)
class SourceView:
    """An indexed article as the source pane shows it, with the quoted paragraph located.

    Attributes:
        source: File path relative to the corpus folder.
        title: The article's title.
        text: The file's current text.
        start_char: Start of the quoted paragraph in ``text`` (``-1``: not in it any more).
        end_char: End of the quoted paragraph.
        highlights: Answering sentences, as absolute ranges in ``text``.
        changed: The file changed since the answer was given.
        citation: The citation as the answer gave it.
        kind: The file's kind (``text``, ``markdown``, ``html``, ``pdf``, ``docx``): for the
            last three, ``text`` is the text extracted from the file.
        pages: For a PDF, the pages the paragraph is on, rendered, with its lines marked.
        section: The heading the paragraph is under (``""``: none).
        date: The document's date, as it gives it (``""``: none).

    """

    source: str
    title: str
    text: str
    start_char: int
    end_char: int
    highlights: tuple[tuple[int, int], ...]
    changed: bool
    citation: str
    kind: str = "text"
    pages: tuple[PageImage, ...] = ()
    section: str = ""
    date: str = ""


def read_indexed(index: Index, source: str) -> ReadFile:
    """An indexed file, and only one, as its reader reads it now (with its bytes).

    Raises:
        CorpusError: ``source`` is not an indexed file, lies outside the corpus folder
            (a link pointing out), or cannot be read now.

    """
    if source not in index.manifest.files:
        raise CorpusError(f"{source} is no longer in the index: it was removed or became unreadable since")
    try:
        return read_file(index.corpus, source, limit_mb=index.settings.max_file_mb)
    except UnreadableError as exc:
        raise CorpusError(f"cannot read {source} now: {exc}") from exc
    except CorpusError as exc:
        raise CorpusError(f"{source} is not shown: {exc}") from exc
    except OSError as exc:
        raise CorpusError(f"cannot read {source} now ({exc.strerror or type(exc).__name__})") from exc


def source_view(index: Index, quote: Quote) -> SourceView:
    """The article a quote comes from, as it is now (read once), with the quote located in it.

    A PDF's pages are rendered, with the quoted lines (and answering sentences) marked on them.

    Raises:
        CorpusError: The file is no longer indexed or readable.

    """
    read = read_indexed(index, quote.source)
    text = read.text
    changed = read.sha256 != quote.file_sha256
    # Where the paragraph is now (moved or gone if the file changed), by the quote check's own rule.
    now = place_in(quote.passage, read, quote.file_sha256)
    highlights: tuple[tuple[int, int], ...] = ()
    if now is None:
        start, end = -1, -1
    else:
        start, end = now.start_char, now.end_char
        highlights = tuple((start + s, start + e) for s, e in quote.highlights)
    pages: tuple[PageImage, ...] = ()
    if read.extracted.kind == "pdf" and now is not None and now.page is not None:
        marks = [(start, end, "quote"), *((s, e, "answer") for s, e in highlights)]
        last = now.end_page if now.end_page is not None else now.page
        try:
            pages = render_pages(read.raw, read.extracted.runs, marks, range(now.page, last + 1))
        except ValueError as exc:
            raise CorpusError(f"cannot show {quote.source} now: {exc}") from exc
    section = (now.section if now is not None else None) or ""
    return SourceView(
        quote.source,
        title_of(read),
        text,
        start,
        end,
        highlights,
        changed,
        quote.citation,
        kind=read.extracted.kind,
        pages=pages,
        section=section,
        date=read.extracted.date,
    )
