"""A folder mixing the formats, with the real model: each answer in its known place, verbatim, and edits caught."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import qa
from qa.ingest.files import read_file

sys.path.insert(0, str(ROOT / "scripts"))
import make_samples

pytestmark = pytest.mark.model

MIXED = ROOT / "tests" / "data" / "mixed"

#: Per format: a question, the file and citation of its answer, and words the answer holds.
CASES = {
    "pdf": (
        "How many volunteers cleaned the Fresnel lens?",
        "report.pdf",
        "mixed/report.pdf p. 2 ¶2",
        "eleven volunteers",
    ),
    "docx": (
        "Who pays for the hives and the protective suits?",
        "hives.docx",
        "mixed/hives.docx ¶3 (line 11), section “Funding”",
        "Larkfield Community Fund",
    ),
    "html": (
        "When is the seed library open?",
        "seed-library.html",
        "mixed/seed-library.html ¶2 (line 5)",
        "Saturday mornings from nine until noon",
    ),
    "markdown": (
        "How many hours can the miller work on each tide?",
        "tide-mill.md",
        "mixed/tide-mill.md ¶3 (line 14), section “How it works”",
        "about four hours",
    ),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Path:
    """A project folder: the mixed sample and its index, built once with the real model."""
    root = tmp_path_factory.mktemp("formats")
    shutil.copytree(MIXED, root / "mixed")
    qa.build_index(root / "mixed", root / "embeddings", embedder=real_embedder, label="mixed")  # type: ignore[arg-type]
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """A copy of the built project that a test may edit."""
    return Path(shutil.copytree(built, tmp_path / "project"))


def open_index(project: Path, embedder: object) -> qa.Index:
    return qa.load_index(project / "embeddings", embedder=embedder)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(CASES))
def test_each_format_answers_from_its_known_place_verbatim(kind: str, built: Path, real_embedder: object) -> None:
    question, source, cited, words = CASES[kind]
    answer = open_index(built, real_embedder).answer(question)
    assert answer.found
    top = answer.quotes[0]
    assert (top.source, top.citation) == (source, cited)
    assert words in top.text
    # The quote is the reader's text at its offsets, for the file as it is.
    read = read_file(built / "mixed", source)
    assert read.text[top.start_char : top.end_char] == top.text
    assert top.file_sha256 == read.sha256
    data = answer.to_dict()["quotes"][0]
    assert data["page"] == (2 if kind == "pdf" else None)
    assert data["section"] == {"pdf": "The lens", "docx": "Funding", "html": None, "markdown": "How it works"}[kind]


def test_the_web_pages_navigation_is_not_indexed(built: Path, real_embedder: object) -> None:
    index = open_index(built, real_embedder)
    assert not [p for p in index.passages if "Museum" in p.text or "cookies" in p.text]
    answer = index.answer("When is the town museum open?")
    assert all("Museum opening hours" not in q.text for q in (*answer.quotes, *answer.more))


def edit(project: Path, kind: str) -> str:
    """Change the answering paragraph of ``kind``'s file; return the file's name."""
    folder = project / "mixed"
    if kind == "pdf":
        blocks = [
            (style, [line.replace("eleven", "twelve") for line in text] if isinstance(text, list) else text)
            for style, text in make_samples.REPORT
        ]
        (folder / "report.pdf").write_bytes(make_samples.pdf_bytes(blocks))
        return "report.pdf"
    if kind == "docx":
        guide = [(style, text.replace("two thousand", "three thousand")) for style, text in make_samples.GUIDE]
        (folder / "hives.docx").write_bytes(make_samples.docx_bytes(guide))
        return "hives.docx"
    name = "seed-library.html" if kind == "html" else "tide-mill.md"
    path = folder / name
    old = {"html": "from nine until noon", "markdown": "about four hours"}[kind]
    new = {"html": "from eight until noon", "markdown": "about five hours"}[kind]
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return name


@pytest.mark.parametrize("kind", list(CASES))
def test_an_edit_to_each_format_is_detected_and_never_quoted_stale(
    kind: str, project: Path, real_embedder: object
) -> None:
    question, source, _, _ = CASES[kind]
    index = open_index(project, real_embedder)
    assert edit(project, kind) == source
    assert index.changes().changed == (source,)
    answer = index.answer(question)
    # The old paragraph is not quoted: every quote is the file's text at its offsets as it reads now.
    assert all(read_file(project / "mixed", q.source).text[q.start_char : q.end_char] == q.text for q in answer.quotes)
    assert any(source in w and "no longer in the file" in w for w in answer.warnings)
    # Once updated, the new text is what is quoted.
    fresh = index.refresh().answer(question)
    top = fresh.quotes[0]
    assert top.source == source and not fresh.warnings
    assert read_file(project / "mixed", source).text[top.start_char : top.end_char] == top.text


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_qa_index_and_ask_on_a_mixed_folder(tmp_path: Path) -> None:
    shutil.copytree(MIXED, tmp_path / "mixed")
    (tmp_path / "mixed" / "scan.pdf").write_bytes(make_samples.pdf_bytes(text=False))
    result = run("index", "mixed", "--out", "embeddings", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "from 5 files" in result.stdout
    assert "skipped scan.pdf: no text layer (OCR not supported)" in result.stderr
    result = run("ask", "How many volunteers cleaned the Fresnel lens?", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    top = json.loads(result.stdout)["quotes"][0]
    assert (top["citation"], top["page"], top["end_page"], top["section"]) == (
        "mixed/report.pdf p. 2 ¶2",
        2,
        2,
        "The lens",
    )
    plain = run("ask", "How many volunteers cleaned the Fresnel lens?", cwd=tmp_path)
    assert "mixed/report.pdf p. 2 ¶2" in plain.stdout
