"""PDF pages as images, with the quoted lines marked by boxes taken from the PDF's own character positions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from .base import Run
from .pdf import PDFIUM_LOCK

#: Width of a rendered page in pixels.
PAGE_WIDTH = 900
#: A page is never rendered taller than this many times its width (a hostile page size stays small).
MAX_ASPECT = 4.0
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

    Args:
        raw: The PDF's bytes.
        runs: Where the extracted text's characters are on the pages (:attr:`Extracted.runs`).
        marks: ``(start, end, kind)`` ranges of the extracted text to mark.
        pages: The pages to render, at most :data:`MAX_PAGES`.

    Raises:
        ValueError: The PDF cannot be opened or rendered.

    """
    import pypdfium2

    images: list[PageImage] = []
    with PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(raw)
        except pypdfium2.PdfiumError as exc:
            raise ValueError(f"the PDF cannot be opened ({exc})") from None
        try:
            for number in list(pages)[:MAX_PAGES]:
                if not 1 <= number <= len(document):
                    continue
                page = document[number - 1]
                try:
                    images.append(_render(page, number, runs, marks))
                finally:
                    page.close()
        except pypdfium2.PdfiumError as exc:
            raise ValueError(f"the PDF page cannot be drawn ({exc})") from None
        finally:
            document.close()
    return tuple(images)


def _render(page: object, number: int, runs: Sequence[Run], marks: Sequence[tuple[int, int, str]]) -> PageImage:
    """One page as a PNG, and the boxes of ``marks`` on it."""
    left, bottom, right, top = page.get_cropbox()  # type: ignore[attr-defined]
    width, height = max(right - left, 1.0), max(top - bottom, 1.0)
    scale = min(PAGE_WIDTH / width, MAX_ASPECT * PAGE_WIDTH / height)
    bitmap = page.render(scale=scale)  # type: ignore[attr-defined]
    image = bitmap.to_pil()
    out = io.BytesIO()
    image.save(out, format="PNG")
    rotated = bool(page.get_rotation())  # type: ignore[attr-defined]
    boxes: list[Box] = []
    if not rotated:
        # Boxes are in page coordinates (origin bottom left); on a rotated page they would not line up.
        textpage = page.get_textpage()  # type: ignore[attr-defined]
        try:
            for start, end, kind in marks:
                for run in runs:
                    lo, hi = max(start, run.start), min(end, run.end)
                    if run.page != number or lo >= hi:
                        continue
                    count = textpage.count_rects(run.index + lo - run.start, hi - lo)
                    for n in range(count):
                        x0, y0, x1, y1 = textpage.get_rect(n)
                        boxes.append(
                            Box((x0 - left) / width, (top - y1) / height, (x1 - x0) / width, (y1 - y0) / height, kind)
                        )
        finally:
            textpage.close()
    return PageImage(number, out.getvalue(), image.width, image.height, tuple(boxes), rotated)
