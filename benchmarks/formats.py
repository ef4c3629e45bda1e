"""Build rate per file format: the same articles as text, Markdown, HTML, PDF and Word files.

Usage:
    python benchmarks/formats.py [--corpus benchmarks/data/squad/corpus] [--articles 8]

Without the SQuAD corpus folder (written by benchmarks/squad.py) the seed articles are used.
Each article is written in every format (HTML with a navigation bar and a footer around
the article; PDF laid out by scripts/make_samples.py, so hard-wrapped lines over pages;
Word with a title paragraph). For each format it times, in one process:

* reading alone: every file through its reader, as the build reads it (in a reader worker
  process, :mod:`qa.ingest.readers.sandbox`; files/s, MB/s, paragraphs/s), and how many of
  the article's paragraphs came back word for word;
* the same reading in this process, without the sandbox: what the worker costs;
* a fresh ``qa.build_index`` with the real model (reading, splitting, embedding, committing),
  unless ``--no-build``.
"""

from __future__ import annotations

import argparse
import html
import shutil
import sys
import tempfile
import time
from pathlib import Path

import qa
from qa.embed.embedder import SentenceTransformerEmbedder
from qa.ingest.files import load
from qa.ingest.readers import EXTRACTIONS, reader_for

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
import make_samples  # noqa: E402

FORMATS = ("txt", "md", "html", "pdf", "docx")


def articles(corpus: Path, count: int) -> list[tuple[str, str, list[str]]]:
    """``(name, title, paragraphs)`` of the first ``count`` articles of a folder of ``.txt`` files."""
    documents = qa.read_corpus(corpus).documents[:count]
    found = []
    for document in documents:
        title = document.title or Path(document.source).stem.replace("_", " ")
        found.append((Path(document.source).stem, title, [p.text for p in qa.split_passages(document)]))
    return found


def write(kind: str, title: str, paragraphs: list[str]) -> bytes:
    """One article as a file of ``kind``."""
    if kind == "txt":
        return "\n\n".join(paragraphs).encode("utf-8")
    if kind == "md":
        return (f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n").encode("utf-8")
    if kind == "html":
        body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs)
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
            f"<main><article><h1>{html.escape(title)}</h1>\n{body}</article></main>"
            "<footer><p>Copyright, contact and privacy links.</p></footer></body></html>"
        ).encode()
    if kind == "pdf":
        return make_samples.pdf_bytes([("title", title), *(("body", p) for p in paragraphs)], bottom=72.0)
    return make_samples.docx_bytes([("Title", title), *(("Normal", p) for p in paragraphs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "data" / "squad" / "corpus")
    parser.add_argument("--articles", type=int, default=8)
    parser.add_argument("--no-build", action="store_true", help="time reading only")
    args = parser.parse_args()
    corpus = args.corpus if args.corpus.is_dir() else HERE.parent / "seeds"
    source = articles(corpus, args.articles)
    embedder = SentenceTransformerEmbedder()
    # Model load and ONNX export happen before any timing, and so does a reader worker's start.
    if not args.no_build:
        embedder.encode(["warm up"] * 8)
    load("warm-up.txt", b"A worker is started before any timing.")
    print(f"{len(source)} articles from {corpus}, {sum(len(p) for _, _, p in source)} paragraphs\n")
    print(
        "| format | files | MB | read s | files/s | MB/s | paragraphs/s read | in-process read s | sandbox cost "
        "| paragraphs back word for word | build s | paragraphs/s built |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in FORMATS:
            folder = Path(tmp) / kind
            folder.mkdir()
            for name, title, paragraphs in source:
                (folder / f"{name}.{kind}").write_bytes(write(kind, title, paragraphs))
            files = sorted(folder.iterdir())
            size = sum(f.stat().st_size for f in files) / 2**20
            raws = [(f.name, f.read_bytes()) for f in files]
            started = time.perf_counter()
            for name, raw in raws:
                reader = reader_for(name)
                assert reader is not None
                reader.read(raw, name)
            alone = time.perf_counter() - started
            # Nothing kept from an earlier read: every file goes through a worker.
            EXTRACTIONS._items.clear()
            started = time.perf_counter()
            read = [load(name, raw) for name, raw in raws]
            reading = time.perf_counter() - started
            passages = sum(len(r.passages) for r in read)
            wanted = {" ".join(p.split()) for _, _, paragraphs in source for p in paragraphs}
            if kind == "pdf":
                # PDF text is set in WinAnsi: characters outside it are written as "?", so expected as such.
                wanted = {p.encode("cp1252", errors="replace").decode("cp1252") for p in wanted}
            got = {" ".join(p.text.split()) for r in read for p in r.passages}
            back = len(wanted & got) / len(wanted)
            built = "– | –"
            if not args.no_build:
                started = time.perf_counter()
                index = qa.build_index(folder, Path(tmp) / f"index-{kind}", embedder=embedder)
                build = time.perf_counter() - started
                assert index.report is not None and not index.report.skipped, index.report
                built = f"{build:.1f} | {len(index) / build:.1f}"
            rates = f"{len(files) / reading:.1f} | {size / reading:.2f} | {passages / reading:.0f}"
            cost = f"{alone:.3f} | +{(reading - alone) * 1000 / len(files):.1f} ms a file"
            print(f"| {kind} | {len(files)} | {size:.2f} | {reading:.3f} | {rates} | {cost} | {back:.2f} | {built} |")
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
