"""PDF pages as images, with the quoted lines marked by boxes taken from the PDF's own character positions."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .base import Run
from .pdf import PDFIUM_LOCK

#: Width of a rendered page in pixels: sharp in a pane of 700 CSS pixels on a screen of twice the
#: density, or zoomed to twice the width of a pane half that size.
PAGE_WIDTH = 1400
#: A page is never rendered taller than this many times its width (a hostile page size stays small).
MAX_ASPECT = 4.0
#: Most pixels in one rendered page, whatever its size and boxes say (a hostile page stays small).
MAX_PIXELS = int(PAGE_WIDTH * PAGE_WIDTH * MAX_ASPECT)
#: Pages rendered for one quote at most (a paragraph over more pages shows its first ones).
MAX_PAGES = 3


@dataclass(frozen=True)
class Box:
    """A rectangle on a page, as fractions of its width and height from the top left.

    ``kind`` is ``quote`` for the lines of the quoted paragraph, ``answer`` for its
    answering sentences.
    """

    left: float
    top: float
    width: float
    height: float
    kind: str


@dataclass(frozen=True)
class PageImage:
    """One rendered page: PNG bytes, size in pixels, and the boxes to draw over it."""

    page: int
    png: bytes
    width: int
    height: int
    boxes: tuple[Box, ...]
    rotated: bool = False


def render_pages(
    raw: bytes, runs: Sequence[Run], marks: Sequence[tuple[int, int, str]], pages: Sequence[int]
) -> tuple[PageImage, ...]:
    """Render ``pages`` (1-based) of the PDF in ``raw``, with a box around every line piece of each mark.

    PDFium is held (:data:`PDFIUM_LOCK`) for one page at a time, and not while the image is
    encoded as PNG: a long read of another PDF goes on between the pages.

    Args:
        raw: The PDF's bytes.
        runs: Where the extracted text's characters are on the pages (:attr:`Extracted.runs`).
        marks: ``(start, end, kind)`` ranges of the extracted text to mark.
        pages: The pages to render, at most :data:`MAX_PAGES`.

    Raises:
        ValueError: The PDF cannot be opened or rendered.

    """
    return _render(raw, runs, marks, lambda _count: pages)[1]


def page_view(
    raw: bytes, runs: Sequence[Run], marks: Sequence[tuple[int, int, str]], page: int
) -> tuple[int, tuple[PageImage, ...]]:
    """The PDF's number of pages, and its page ``page`` (kept within the document) drawn: the PDF opened once.

    Raises:
        ValueError: The PDF cannot be opened or rendered.

    """
    return _render(raw, runs, marks, lambda count: [min(max(page, 1), max(count, 1))])


def _render(
    raw: bytes,
    runs: Sequence[Run],
    marks: Sequence[tuple[int, int, str]],
    choose: Callable[[int], Sequence[int]],
) -> tuple[int, tuple[PageImage, ...]]:
    """The page count and the pages ``choose`` picks from it, drawn (see :func:`render_pages`)."""
    drawn: list[tuple[int, Any, tuple[Box, ...], bool]] = []
    with PDFIUM_LOCK:
        document = _open(raw)
    try:
        with PDFIUM_LOCK:
            count = len(document)
        for number in list(choose(count))[:MAX_PAGES]:
            with PDFIUM_LOCK:
                if not 1 <= number <= count:
                    continue
                page = document[number - 1]
                try:
                    drawn.append(_draw(page, number, runs, marks))
                finally:
                    page.close()
    except MemoryError:
        # Over the drawing worker's memory limit: the sandbox says so.
        raise
    except Exception as exc:
        # Whatever else a damaged or hostile page makes go wrong, it cannot be shown.
        raise ValueError(f"the PDF page cannot be drawn ({_reason(exc)})") from None
    finally:
        with PDFIUM_LOCK:
            document.close()
    # PNG encoding needs no PDFium: it runs without the lock.
    images: list[PageImage] = []
    for number, image, boxes, rotated in drawn:
        out = io.BytesIO()
        image.save(out, format="PNG")
        images.append(PageImage(number, out.getvalue(), image.width, image.height, boxes, rotated))
    return count, tuple(images)


def _open(raw: bytes) -> Any:
    """The PDF ``raw`` opened with PDFium (the caller holds :data:`PDFIUM_LOCK`), or ValueError."""
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(raw)
    except Exception as exc:
        raise ValueError(f"the PDF cannot be opened ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    """An exception as a short reason: its message, else its type."""
    return str(exc) or type(exc).__name__


def scale_for(width: float, height: float) -> float:
    """The scale a page of ``width`` × ``height`` points is drawn at (at most :data:`MAX_PIXELS` pixels).

    :data:`PAGE_WIDTH` wide, but never taller than :data:`MAX_ASPECT` times that.
    """
    width, height = max(width, 1.0), max(height, 1.0)
    return min(PAGE_WIDTH / width, MAX_ASPECT * PAGE_WIDTH / height, math.sqrt(MAX_PIXELS / (width * height)))


def _draw(
    page: Any, number: int, runs: Sequence[Run], marks: Sequence[tuple[int, int, str]]
) -> tuple[int, Any, tuple[Box, ...], bool]:
    """One page as a PIL image (its own copy of the pixels), and the boxes of ``marks`` on it."""
    # The size PDFium renders; the crop box only places the characters (a box may be inverted or empty).
    width, height = page.get_size()
    x0, y0, x1, y1 = page.get_cropbox()
    left, bottom = min(x0, x1), min(y0, y1)
    if abs(x1 - x0) < 1 or abs(y1 - y0) < 1:
        left, bottom = 0.0, 0.0
    width, height = max(width, 1.0), max(height, 1.0)
    top = bottom + height
    scale = scale_for(width, height)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"a page of {width} × {height} points")
    bitmap = page.render(scale=scale)
    try:
        # The image must not share the bitmap's memory, which is freed now.
        image = bitmap.to_pil().copy()
    finally:
        bitmap.close()
    rotated = bool(page.get_rotation())
    boxes: list[Box] = []
    if not rotated:
        # Boxes are in page coordinates (origin bottom left); on a rotated page they would not line up.
        textpage = page.get_textpage()
        try:
            for start, end, kind in marks:
                for run in runs:
                    lo, hi = max(start, run.start), min(end, run.end)
                    if run.page != number or lo >= hi:
                        continue
                    count = textpage.count_rects(run.index + lo - run.start, hi - lo)
                    for n in range(count):
                        if box := _box(textpage.get_rect(n), left, top, width, height, kind):
                            boxes.append(box)
        finally:
            textpage.close()
    return number, image, tuple(boxes), rotated


def _box(
    rect: tuple[float, float, float, float], left: float, top: float, width: float, height: float, kind: str
) -> Box | None:
    """A character rectangle ``(left, bottom, right, top)`` in page points as a :class:`Box`, cut to the page.

    ``None``: none of it is on the page as drawn (text outside a small crop box).
    """
    x0, y0, x1, y1 = rect
    # Fractions of the page from its top left, in order, within the page.
    a = min(max((min(x0, x1) - left) / width, 0.0), 1.0)
    b = min(max((max(x0, x1) - left) / width, 0.0), 1.0)
    c = min(max((top - max(y0, y1)) / height, 0.0), 1.0)
    d = min(max((top - min(y0, y1)) / height, 0.0), 1.0)
    if b <= a or d <= c:
        return None
    return Box(a, c, b - a, d - c, kind)
