"""The qa command, run as a subprocess like a person would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, SEEDS

import qa

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
    # Only sentences that clear the highlight bar are marked; the library one does.
    assert 1 <= result.stdout.count("best sentence: ") <= 5
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


def test_damaged_index_is_named_then_repaired_by_qa_index(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    for suffix in ("-wal", "-shm"):
        (copy / "embeddings" / f"index.db{suffix}").unlink(missing_ok=True)
    (copy / "embeddings" / "index.db").write_bytes(b"\0garbage" * 1000)
    result = run("ask", "anything", "--no-refresh", cwd=copy)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "index.db is damaged" in result.stderr and "qa index" in result.stderr
    repaired = run("index", "seeds", "--out", "embeddings", "--quiet", cwd=copy)
    assert repaired.returncode == 0, repaired.stderr
    assert "damaged" in repaired.stderr and "Indexed 28 paragraphs" in repaired.stdout
    assert run("ask", "Who directs the Basra Cultural Center?", cwd=copy).returncode == 0


def test_old_format_index_is_rebuilt(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project / "seeds", copy / "seeds")
    old = copy / "embeddings"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"format_version": 1, "model": "all-MiniLM-L6-v2"}))
    (old / "passages-0123456789ab.jsonl").write_text("{}\n")
    result = run("ask", "Who directs the Basra Cultural Center?", "--json", cwd=copy)
    assert result.returncode == 0, result.stderr
    assert "older format" in result.stderr
    assert json.loads(result.stdout)["found"] is True
    assert not (old / "passages-0123456789ab.jsonl").exists()


def test_second_qa_index_waits_for_the_first(project: Path, tmp_path: Path) -> None:
    import filelock

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    lock = filelock.FileLock(str(copy / "embeddings" / "writer.lock"))
    with lock:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        waiting = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", "seeds", "--out", "embeddings", "--quiet"],
            cwd=copy,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        line = ""
        while "waiting" not in line and time.monotonic() < deadline:
            line = waiting.stderr.readline() if waiting.stderr else ""
        assert "Another index update is running" in line
        assert waiting.poll() is None, "it did not wait"
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    # The first had done everything: the one that waited finds nothing changed, and says so.
    assert out.startswith("Checked 28 paragraphs from 3 files") and "up to date, nothing changed" in out


def test_a_new_index_is_int8_and_no_int8_switches_it(project: Path) -> None:
    assert qa.load_index(project / "embeddings").manifest.int8 is True
    exact = run("index", "seeds", "--out", "exact", "--no-int8", cwd=project)
    assert exact.returncode == 0, exact.stderr
    assert qa.load_index(project / "exact").manifest.int8 is False
    # Kept by a plain update; both answer the same question with the same paragraph first.
    again = run("index", "seeds", "--out", "exact", cwd=project)
    assert again.returncode == 0 and "rebuilding" not in again.stderr
    assert "0 embedded" in again.stdout and qa.load_index(project / "exact").manifest.int8 is False
    question = "Who directs the Basra Cultural Center?"
    answers = [
        json.loads(run("ask", question, "--json", "--index", folder, "--no-refresh", cwd=project).stdout)
        for folder in ("embeddings", "exact")
    ]
    assert [(a["quotes"][0]["source"], a["quotes"][0]["paragraph"]) for a in answers] == [
        ("001_9dcbbab14ab930fe.txt", 3)
    ] * 2


def test_the_reported_time_includes_starting_the_process(project: Path) -> None:
    # A no-op update takes well under a second of its own; starting Python and importing is counted too.
    script = "import time; time.sleep(1.0); from qa.cli import main; raise SystemExit(main())"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, "index", "seeds", "--out", "embeddings"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    seconds = float(result.stdout.split(" in ", 1)[1].split(" s ", 1)[0])
    assert seconds >= 1.0, result.stdout


def test_no_sentences_is_kept_until_asked_otherwise(project: Path) -> None:
    lean = run("index", "seeds", "--out", "lean", "--no-sentences", cwd=project)
    assert lean.returncode == 0, lean.stderr
    assert qa.load_index(project / "lean").manifest.sentences is False
    # A plain update keeps the choice: nothing is rebuilt.
    again = run("index", "seeds", "--out", "lean", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "rebuilding" not in again.stderr and qa.load_index(project / "lean").manifest.sentences is False
    # Asked for, the sentences come back (the paragraph vectors are reused).
    full = run("index", "seeds", "--out", "lean", "--sentences", cwd=project)
    assert full.returncode == 0, full.stderr
    assert qa.load_index(project / "lean").manifest.sentences is True
