"""PDF pages drawn for the source pane: bounded bitmaps, errors as ValueError, PDFium held per page."""

from __future__ import annotations

from typing import Any

import pytest
from support.samples import (
    CountingLock,
    body_lines,
    lines_pdf,
)

from qa.ingest.readers import extract


@pytest.mark.parametrize(
    "box",
    [
        "/MediaBox [0 0 612 792] /CropBox [612 792 0 0]",  # inverted
        "/MediaBox [0 0 612 792] /CropBox [0 0 0 0]",  # empty
        "/MediaBox [0 0 0 0] /CropBox [0 0 0 0]",  # no size at all
        "/MediaBox [0 0 612 792] /CropBox [300 300 300.5 300.2]",  # a speck
        "/MediaBox [0 0 14400 14400]",  # the largest page PDF allows
        "/MediaBox [0 0 14400 3]",  # a ribbon
    ],
)
def test_a_pdf_page_of_a_hostile_size_renders_a_bounded_bitmap(box: str) -> None:
    from qa.ingest.readers.pdfpage import MAX_PIXELS, PAGE_WIDTH, render_pages

    raw = lines_pdf([body_lines(5)], box=box)
    read = extract("hostile.pdf", raw)
    (image,) = render_pages(raw, read.runs, [(0, 40, "quote")], [1])
    assert image.png.startswith(b"\x89PNG")
    assert image.width <= PAGE_WIDTH + 1 and image.width * image.height <= MAX_PIXELS * 1.01
    # Boxes are on the page as drawn (none for text outside a speck of a crop box).
    assert all(0 <= b.left <= b.left + b.width <= 1 and 0 <= b.top <= b.top + b.height <= 1 for b in image.boxes)


def test_a_page_that_cannot_be_drawn_is_a_value_error_and_frees_pdfium(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import pypdfium2

    from qa.ingest.readers.pdf import PDFIUM_LOCK
    from qa.ingest.readers.pdfpage import render_pages

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("damaged page")

    monkeypatch.setattr(pypdfium2.PdfPage, "render", broken)
    raw = lines_pdf([body_lines(5)])
    with pytest.raises(ValueError, match=r"the PDF page cannot be drawn \(.*damaged page.*\)"):
        render_pages(raw, (), [], [1])
    # Another thread can take PDFium at once: the failed render let it go.
    taken: list[bool] = []

    def take() -> None:
        if PDFIUM_LOCK.acquire(blocking=False):
            taken.append(True)
            PDFIUM_LOCK.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    assert taken == [True]


def test_pdfium_is_held_per_page_and_not_while_a_png_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    import qa.ingest.readers.pdf as pdf
    import qa.ingest.readers.pdfpage as pdfpage

    lock = CountingLock()
    monkeypatch.setattr(pdf, "PDFIUM_LOCK", lock)
    monkeypatch.setattr(pdfpage, "PDFIUM_LOCK", lock)
    page_lines = pdf._page_lines

    def logged(*args: Any) -> Any:
        assert lock.depth == 1
        lock.events.append("page")
        return page_lines(*args)

    monkeypatch.setattr(pdf, "_page_lines", logged)
    raw = lines_pdf([body_lines(5)] * 4)
    read = pdf.PdfReader().read(raw, "four.pdf")
    assert lock.depth == 0 and lock.events.count("page") == 4
    # PDFium is let go between every two pages: a page drawn meanwhile waits for one page only.
    between = "".join("p" if e == "page" else "f" if e == "free" else "" for e in lock.events)
    assert "pp" not in between
    encoded: list[int] = []
    save = Image.Image.save

    def logged_save(self: Image.Image, *args: Any, **kwargs: Any) -> None:
        encoded.append(lock.depth)
        save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", logged_save)
    images = pdfpage.render_pages(raw, read.runs, [(0, 40, "quote")], [1, 2, 3])
    assert len(images) == 3 and encoded == [0, 0, 0] and lock.depth == 0
