"""The source pane's view of an article: the file as it reads now, the quoted paragraph found in it, PDF pages drawn."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..answer.quotes import Quote, place_in, title_of
from ..errors import CorpusError
from ..index import Index
from ..ingest.files import ReadFile, read_file
from ..ingest.readers import POOL, UnreadableError
from ..ingest.readers.pdfpage import PageImage


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
        pages: For a PDF, the page shown, rendered, with the quoted lines marked if they are on it.
        section: The heading the paragraph is under (``""``: none).
        date: The document's date, as it gives it (``""``: none).
        page_count: For a PDF, its number of pages (``0`` for other formats).
        page_text: For a PDF, the text of the page shown, as extracted (selectable beside the image).
        page_start: Where ``page_text`` starts in ``text``.
        quoted_pages: For a PDF, the pages the quoted paragraph is on (empty: nothing quoted).

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
    page_count: int = 0
    page_text: str = ""
    page_start: int = 0
    quoted_pages: tuple[int, ...] = ()

    @property
    def page(self) -> int:
        """The PDF page shown (``0`` for other formats)."""
        return self.pages[0].page if self.pages else 0


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


def source_view(index: Index, quote: Quote, page: int | None = None) -> SourceView:
    """The article a quote comes from, as it is now (read once), with the quote located in it.

    A PDF shows one page at a time: ``page`` (default: the first the quote is on), drawn,
    with the quoted lines (and answering sentences) marked where they are on it.

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
    quoted: tuple[int, ...] = ()
    if now is not None and now.page is not None:
        quoted = tuple(range(now.page, (now.end_page if now.end_page is not None else now.page) + 1))
    marks = [(start, end, "quote"), *((s, e, "answer") for s, e in highlights)] if now is not None else []
    section = (now.section if now is not None else None) or ""
    view = SourceView(
        quote.source,
        title_of(read),
        text,
        start,
        end,
        highlights,
        changed,
        quote.citation,
        kind=read.extracted.kind,
        section=section,
        date=read.extracted.date,
        quoted_pages=quoted,
    )
    return _with_page(view, read, marks, page if page is not None else (quoted[0] if quoted else 1))


def document_view(index: Index, source: str, page: int = 1) -> SourceView:
    """An indexed file from its start, nothing marked (opened from the list of documents).

    Raises:
        CorpusError: The file is no longer indexed or readable.

    """
    read = read_indexed(index, source)
    view = SourceView(
        source,
        title_of(read),
        read.text,
        -1,
        -1,
        (),
        False,
        "",
        kind=read.extracted.kind,
        date=read.extracted.date,
    )
    return _with_page(view, read, [], page)


def original(index: Index, source: str) -> bytes:
    """An indexed file's bytes as they are now, for "download original" (the source pane's checks).

    Raises:
        CorpusError: The file is no longer indexed or readable.

    """
    return read_indexed(index, source).raw


def _with_page(view: SourceView, read: ReadFile, marks: list[tuple[int, int, str]], page: int) -> SourceView:
    """``view`` with one page of a PDF drawn (``page`` kept within the document); as it is for other formats."""
    if read.extracted.kind != "pdf":
        return view
    try:
        # One worker job, the PDF opened once: its page count and the page shown (kept within it).
        count, pages = POOL.page_view(read.raw, read.extracted.runs, marks, page)
        shown = min(max(page, 1), max(count, 1))
    except ValueError as exc:
        raise CorpusError(f"cannot show {view.source} now: {exc}") from exc
    runs = [run for run in read.extracted.runs if run.page == shown]
    first = min((r.start for r in runs), default=0)
    text = read.text[first : max(r.end for r in runs)] if runs else ""
    return replace(view, pages=pages, page_count=count, page_text=text, page_start=first)
