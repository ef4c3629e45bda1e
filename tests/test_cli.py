"""The qa command, run as a subprocess like a person would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, SEEDS

pytestmark = pytest.mark.model


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(SEEDS, root / "seeds")
    result = run("index", "seeds", "--out", "embeddings", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "Indexed 28 paragraphs from 3 files" in result.stdout
    return root


def test_ask_json(project: Path) -> None:
    result = run("ask", "Who directs the Basra Cultural Center?", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == "Who directs the Basra Cultural Center?"
    assert data["found"] is True
    top = data["quotes"][0]
    assert set(top) >= {"source", "paragraph", "start_line", "end_line", "text", "score"}
    assert (top["source"], top["paragraph"]) == ("001_9dcbbab14ab930fe.txt", 3)
    text = (project / "seeds" / top["source"]).read_text(encoding="utf-8")
    assert text[top["start_char"] : top["end_char"]] == top["text"]


def test_ask_text_shows_citations_and_abstains(project: Path) -> None:
    result = run("ask", "What is the capital of France?", "--k", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No passage in the articles answers this question.")
    assert result.stdout.count("seeds/") == 2 and "¶" in result.stdout


@pytest.mark.parametrize("retriever", ["dense", "lexical", "hybrid"])
def test_ask_text_highlights_with_each_retriever(project: Path, retriever: str) -> None:
    result = run("ask", "What library was established in Basra?", "--k", "5", "--retriever", retriever, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "seeds/001_9dcbbab14ab930fe.txt ¶4 (line 4)" in result.stdout
    assert result.stdout.count("best sentence: ") == 5
    assert "best sentence: Notably, the collaboration has seen the establishment" in result.stdout


def test_eval_json(project: Path) -> None:
    result = run("eval", str(DEV_QUESTIONS), "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["metrics"]["recall@5"] == 1.0
    assert {"recall@1", "recall@10", "mrr@10", "ndcg@10", "abstention_accuracy"} <= set(data["metrics"])
    assert len(data["questions"]) == 20
    assert all(len(q["ranked"]) >= 10 and isinstance(q["found"], bool) for q in data["questions"])
    assert data["questions"][0]["ranked"][0].endswith(".txt#3")


def test_ask_refreshes_after_an_edit(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    (copy / "seeds" / "new.txt").write_text(
        "The Zebra Festival in Najaf is held every April with music.", encoding="utf-8"
    )
    result = run("ask", "When is the Zebra Festival held?", "--json", cwd=copy)
    assert result.returncode == 0, result.stderr
    assert "changed since the last build" in result.stderr and "1 file added (new.txt)" in result.stderr
    assert json.loads(result.stdout)["quotes"][0]["source"] == "new.txt"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "   "), "question is empty"),
        (("ask", "x", "--k", "0"), "k must be"),
        (("ask", "hello", "--index", "nowhere", "--corpus", "missing-folder"), "corpus folder not found"),
        (
            ("ask", "hello", "--model", "some/other-model"),
            "built with model 'all-MiniLM-L6-v2', not 'some/other-model'",
        ),
        (("eval", "no-such-file.jsonl"), "cannot read questions file"),
        (
            ("index", "seeds", "--out", "seeds/001_9dcbbab14ab930fe.txt/index", "--quiet"),
            "seeds/001_9dcbbab14ab930fe.txt",
        ),
        (("index", "no-such-folder"), "corpus folder not found"),
    ],
)
def test_errors_are_one_clear_line(project: Path, args: tuple[str, ...], message: str) -> None:
    result = run(*args, cwd=project)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("qa: error:")


def test_corrupt_index_is_reported(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    (copy / "embeddings" / "manifest.json").write_text("{")
    result = run("ask", "anything", cwd=copy)
    assert result.returncode == 1 and "unreadable" in result.stderr and "qa index" in result.stderr
