"""Write the mixed-format sample under tests/data/mixed: a two-page PDF and a Word document.

The PDF is written byte by byte (Helvetica, one text object per line), so that the same
script always gives the same file and its layout is known: page numbers in the footer, a
word hyphenated at a line end, and a paragraph that runs from page 1 onto page 2. The Word
document is written with python-docx and re-zipped with fixed times, so it too is the same
every run. The HTML and Markdown files beside them are written by hand.

    .venv/bin/python scripts/make_samples.py            # rewrite the committed files
    .venv/bin/python scripts/make_samples.py --check    # fail if they differ from what it writes
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "mixed"

#: A paragraph is a string (wrapped here) or its lines as they are to be set.
Paragraph = str | list[str]

REPORT_TITLE = "Restoring the Kettle Point Lighthouse"
REPORT: list[tuple[str, Paragraph]] = [
    ("title", REPORT_TITLE),
    ("small", "Annual report of the Kettle Point Heritage Trust, March 2024"),
    (
        "body",
        "The Kettle Point lighthouse was built in 1871 to guard the rocky channel between the mainland "
        "and Gull Island. It was switched off in 1994, when a satellite beacon replaced it, and the tower "
        "was left to the weather for almost thirty years.",
    ),
    (
        "body",
        "In 2021 the Heritage Trust bought the tower from the port authority for a symbolic price of one "
        "pound. The sale came with a condition: the light had to shine again within five years, or the "
        "building would return to the port.",
    ),
    ("heading", "Work on the tower"),
    (
        "body",
        "Masons from the town of Wexcombe replaced the cracked granite blocks at the base of the tower "
        "during the summer of 2022. They used stone from the original quarry at Penmarrow, which reopened "
        "for three weeks so that the new blocks would match the old ones in colour and grain.",
    ),
    (
        "body",
        "The iron lantern room at the top was in worse condition than the surveyors expected. Salt had eaten "
        "through two of the eight window frames, and the copper dome leaked in every storm. A foundry in "
        "Bristol cast new frames from drawings kept in the national maritime archive, and the dome was "
        "taken down, patched and lifted back by crane in a single afternoon in October while the keepers "
        "of the neighbouring harbour watched from the quay and the local school took the day off to see it.",
    ),
    (
        "body",
        "The lantern room was repainted in the original red and white bands, a scheme that fishermen had "
        "asked for in a petition signed by more than four hundred people from the villages along the coast "
        "and sent to the Trust in the first winter of the restoration.",
    ),
    ("heading", "The lens"),
    (
        "body",
        [
            "The original Fresnel lens, a cage of brass and hand-ground glass weighing almost two tonnes,",
            "was taken apart and cleaned by a team of eleven volunteers led by the retired keeper Edith Marlow.",
            "Each of its 116 prisms was polished by hand over the winter of 2023, and six cracked prisms were",
            "recast by a glassworks in Stourbridge. The volunteers finished the work in February, three weeks",
            "ahead of the schedule the Trust had agreed with the port authority, and the re-",
            "assembled lens was lifted into the lantern room on a calm morning in March.",
        ],
    ),
    (
        "body",
        "The light shone again on 14 March 2024. It now uses a 70-watt LED lamp, which needs a hundredth of "
        "the power of the old paraffin burner, and it can be seen from twenty nautical miles out at sea.",
    ),
    (
        "body",
        "The tower is open to visitors on Saturdays from April to October. Tickets cost four pounds, and "
        "every ticket pays for the upkeep of the lantern room and the lens.",
    ),
]

#: Font resource, size, leading and space before, per kind of line.
STYLES = {
    "title": ("F2", 18.0, 24.0, 0.0),
    "small": ("F1", 10.0, 14.0, 4.0),
    "heading": ("F2", 14.0, 18.0, 14.0),
    "body": ("F1", 11.0, 14.5, 9.0),
}
PAGE_WIDTH, PAGE_HEIGHT = 612, 792
LEFT, TOP, BOTTOM = 72.0, 720.0, 360.0
#: Characters per body line (Helvetica 11 pt: about 470 pt).
WRAP = 92


def _escape(text: str) -> str:
    """``text`` as a PDF literal string's content."""
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pages(blocks: Sequence[tuple[str, Paragraph]], bottom: float = BOTTOM) -> list[list[str]]:
    """Lay the blocks out top to bottom, line by line, starting a new page at the ``bottom`` margin."""
    pages: list[list[str]] = [[]]
    y = TOP
    for kind, paragraph in blocks:
        font, size, leading, before = STYLES[kind]
        lines = paragraph if isinstance(paragraph, list) else textwrap.wrap(paragraph, WRAP)
        y -= before
        for line in lines:
            if y < bottom:
                # A paragraph runs on: the next page starts with its next line.
                pages.append([])
                y = TOP
            pages[-1].append(f"BT /{font} {size:g} Tf {LEFT:g} {y:g} Td ({_escape(line)}) Tj ET")
            y -= leading
    for number, page in enumerate(pages, start=1):
        # Page furniture: the page number, centred in the footer.
        page.append(f"BT /F1 9 Tf {PAGE_WIDTH / 2 - 3:g} 40 Td ({number}) Tj ET")
    return pages


def pdf_bytes(blocks: Sequence[tuple[str, Paragraph]] = REPORT, *, text: bool = True, bottom: float = BOTTOM) -> bytes:
    """A PDF of ``blocks``; ``text=False`` draws grey bars where the lines would be (a scan: no text layer).

    Text is set in the PDF's WinAnsi encoding: characters it lacks become ``?``.
    """
    pages = _pages(blocks, bottom)
    if not text:
        pages = [[f"0.6 g {LEFT:g} {line.split(' Td ')[0].split()[-1]} 400 8 re f" for line in page] for page in pages]
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * n} 0 R" for n in range(len(pages)))
    fonts = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for number, page in enumerate(pages):
        stream = "\n".join(page).encode("cp1252", errors="replace")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] /Resources << /Font << "
            f"/F1 {fonts} 0 R /F2 {fonts + 1} 0 R >> >> /Contents {4 + 2 * number} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    for base in ("Helvetica", "Helvetica-Bold"):
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


GUIDE: list[tuple[str, str]] = [
    ("Title", "Rooftop Hives of Larkfield"),
    (
        "Normal",
        "Larkfield's rooftop beekeeping scheme puts beehives on the flat roofs of schools, libraries "
        "and the town hall. It started with four hives in 2019 and now has thirty-two.",
    ),
    ("Heading 1", "How the scheme began"),
    (
        "Normal",
        "The idea came from a group of allotment holders who noticed that their runner beans and apple trees "
        "were setting less fruit each year. They asked the council for space where bees would be safe from "
        "pesticides and vandals, and the flat roofs of public buildings were the answer.",
    ),
    ("Heading 1", "Funding"),
    (
        "Normal",
        "The hives, protective suits and training are paid for by the Larkfield Community Fund, which "
        "puts aside two thousand pounds a year for the scheme. Honey sold at the Saturday market covers "
        "the cost of sugar syrup in winter and of replacing old frames.",
    ),
    (
        "Normal",
        "Local businesses can sponsor a hive for one hundred and fifty pounds a year; their name is painted "
        "on the hive and they receive six jars of honey in September.",
    ),
    ("Heading 1", "Volunteers"),
    (
        "Normal",
        "Every hive has two volunteer keepers who inspect it once a week from April to September. New "
        "volunteers take a six-week course with the county beekeepers' association before they open a hive "
        "on their own.",
    ),
]

#: Zip entry times in the Word document: fixed, so that the file is the same every run.
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def docx_bytes(paragraphs: Sequence[tuple[str, str]] = GUIDE) -> bytes:
    """A Word document with ``(style, text)`` paragraphs, its zip entries dated :data:`_ZIP_TIME`."""
    import datetime as dt

    import docx

    document = docx.Document()
    properties = document.core_properties
    properties.title = paragraphs[0][1]
    properties.author = "Larkfield Beekeepers"
    properties.created = properties.modified = dt.datetime(2024, 1, 1)
    properties.last_modified_by = "make_samples.py"
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
    written = io.BytesIO()
    document.save(written)
    fixed = io.BytesIO()
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(zipfile.ZipInfo(item.filename, _ZIP_TIME), source.read(item.filename), zipfile.ZIP_DEFLATED)
    return fixed.getvalue()


def form_bomb_pdf(fanout: int = 100, depth: int = 3) -> bytes:
    """A small hostile PDF: one readable line, then form objects that draw each other ``fanout`` times, ``depth`` deep.

    With the defaults it is about 1.4 KB and asks a reader for 10⁶ text draws (each a little
    further on): read here in 9 s and 2 GB; one level deeper (``depth=4``, 10⁸ draws) it takes
    more memory than the machine has (benchmarks/hostile.py). Indexing must skip it with a
    reason and index the files beside it.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
        b" /Resources << /Font << /F1 3 0 R >> /XObject << /X1 6 0 R >> >> >>",
    ]
    line = b"BT /F1 12 Tf 72 700 Td (A page that draws itself a million times.) Tj ET\n"
    page = zlib.compress(line + b"/X1 Do 1 0 0 1 0.37 0.23 cm " * fanout)
    objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(page) + page + b"\nendstream")
    for level in range(1, depth + 1):
        if level < depth:
            # Each draw a little further on: no two of the 10⁶ characters are in one place.
            body = b"/X%d Do 1 0 0 1 0.37 0.23 cm " % (level + 1) * fanout
            inner = b"/XObject << /X%d %d 0 R >> " % (level + 1, 6 + level)
        else:
            body, inner = b"BT /F1 9 Tf 80 600 Td (a) Tj ET", b""
        objects.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << %s/Font << /F1 3 0 R >> >>"
            b" /Length %d /Filter /FlateDecode >>\nstream\n"
            % (inner, len(zlib.compress(body)))
            + zlib.compress(body)
            + b"\nendstream"
        )
    return pdf_file(objects)


def pdf_file(objects: Sequence[bytes], trailer: str = "") -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first the catalog) with its cross-reference table.

    ``trailer`` is added to the trailer dictionary (`` /Info 9 0 R``).
    """
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def long_docx(paragraphs: int = 99_391, characters: int = 600) -> bytes:
    """A small Word document that unpacks to a lot of text: ``paragraphs`` paragraphs of ``characters`` each.

    With the defaults it is about 200 KB on disk and 60 MB of text, as the file of the report.
    """
    words = " ".join(f"w{n % 97}" for n in range(characters // 4))[:characters]
    run = b"<w:p><w:r><w:t>" + words.encode() + b"</w:t></w:r></w:p>"
    body = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        + run * paragraphs
        + b"<w:sectPr/></w:body></w:document>"
    )
    seed = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for item in seed.infolist():
            archive.writestr(item.filename, body if item.filename == "word/document.xml" else seed.read(item.filename))
    return out.getvalue()


def samples() -> dict[str, bytes]:
    """The generated files of the sample, by name."""
    return {"report.pdf": pdf_bytes(), "hives.docx": docx_bytes()}


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) the generated sample files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    parser.add_argument("--out", type=Path, default=SAMPLE, help=f"folder to write to (default {SAMPLE})")
    args = parser.parse_args(argv)
    differ = []
    for name, data in samples().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                differ.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes)")
    if differ:
        print(f"differ from what scripts/make_samples.py writes: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
