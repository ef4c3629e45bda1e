"""Sample documents built in tests: the mixed sample's script, PDFs line by line, Word bodies, hostile files."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MIXED = ROOT / "tests" / "data" / "mixed"

sys.path.insert(0, str(ROOT / "scripts"))
import make_samples  # noqa: E402

__all__ = [
    "MIXED",
    "CountingLock",
    "body_lines",
    "encrypted_pdf",
    "lines_pdf",
    "make_samples",
    "many_paragraphs_docx",
    "zip_bomb",
]


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_samples.pdf_bytes())))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (80 * 2**20))
    return out.getvalue()


def lines_pdf(
    pages: list[list[tuple[float, float, str]]], *, box: str = "/MediaBox [0 0 612 792]", title: str = ""
) -> bytes:
    """A PDF of pages of ``(font size, baseline, text)`` lines in Helvetica; ``box`` as each page's boxes."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * n} 0 R" for n in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number, page in enumerate(pages):
        stream = "\n".join(f"BT /F1 {size:g} Tf 72 {y:g} Td ({text}) Tj ET" for size, y, text in page).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R {box} /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * number} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = f" /Info {len(objects) + 1} 0 R" if title else ""
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    return make_samples.pdf_file(objects, info)


def body_lines(count: int, top: float = 700, step: float = 14) -> list[tuple[float, float, str]]:
    return [
        (11, top - step * n, f"Body line {n} about the tide mill and the miller who ran it for years.")
        for n in range(count)
    ]


class CountingLock:
    """A stand-in for :data:`PDFIUM_LOCK` that logs each time it is taken and let go."""

    def __init__(self) -> None:
        self.depth = 0
        self.events: list[str] = []

    def __enter__(self) -> None:
        self.depth += 1
        self.events.append("take")

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        self.events.append("free")


def many_paragraphs_docx(count: int) -> bytes:
    """A .docx whose body is ``count`` one-word paragraphs (small on disk, huge unpacked)."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    )
    body = head + b"<w:p><w:r><w:t>word</w:t></w:r></w:p>" * count + b"<w:sectPr/></w:body></w:document>"
    seed = zipfile.ZipFile(io.BytesIO(make_samples.docx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in seed.infolist():
            data = body if item.filename == "word/document.xml" else seed.read(item.filename)
            archive.writestr(item.filename, data)
    return out.getvalue()
