"""Concurrent use of one index folder: readers during writes, two builders, kill -9 mid-build."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from fakes import FakeEmbedder
from workers import article

import qa
from qa.store import freeze as freeze_module

WORKERS = ROOT / "tests" / "workers.py"
FILES = 8


def write_articles(corpus: Path, version: int = 0, files: int = FILES) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for number in range(files):
        (corpus / f"article_{number}.txt").write_text(article(number, version), encoding="utf-8")


def replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def embeddings(folder: Path) -> int:
    with sqlite3.connect(folder / "index.db", timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def worker(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKERS), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def test_readers_see_complete_states_while_a_writer_edits_and_merges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus)
    fake = FakeEmbedder()
    qa.build_index(corpus, folder, embedder=fake)
    # Rewrite the base vector file on every update, so readers race with file swaps too.
    monkeypatch.setattr(freeze_module, "MERGE_MIN", 0)
    edits = 12
    readers = [worker("read", str(corpus), str(folder), "--seconds", "6", "--versions", str(edits)) for _ in range(2)]
    generations = []
    deadline = time.monotonic() + 5.5
    version = 0
    while time.monotonic() < deadline and version < edits:
        version += 1
        for number in random.Random(version).sample(range(FILES), 3):
            replace_atomically(corpus / f"article_{number}.txt", article(number, version))
        generations.append(qa.build_index(corpus, folder, embedder=fake).generation)
    results = [json.loads(r.communicate(timeout=60)[0]) for r in readers]
    assert generations == sorted(generations) and len(set(generations)) == len(generations) >= 3
    for result in results:
        assert result["reads"] > 10
        assert result["error_count"] == 0, result["errors"]


def test_two_builders_at_once_leave_a_complete_index(tmp_path: Path) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=12)
    builders = [worker("build", str(corpus), str(folder), "--delay", "0.01", "--small-batches") for _ in range(2)]
    outputs = [b.communicate(timeout=120) for b in builders]
    assert [b.returncode for b in builders] == [0, 0], outputs
    # The second one waited for the first instead of racing it, and found nothing left to do.
    assert any("waiting" in err for _, err in outputs)
    reports = sorted((json.loads(out) for out, _ in outputs), key=lambda r: r["embedded"])
    assert reports[0]["embedded"] == 0 and reports[1]["embedded"] == 60
    index = qa.load_index(folder, embedder=FakeEmbedder())
    assert len(index) == 60 and set(index.manifest.files) == {f"article_{n}.txt" for n in range(12)}
    assert not index.changes()
    assert index.search("bridge7 repainted", k=1)[0].source == "article_7.txt"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_mid_build_keeps_the_last_state_and_the_rerun_resumes(tmp_path: Path, seed: int) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=20)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    # Edit every file and add ten more: 100 + 50 paragraphs change, 20 + 10 files.
    write_articles(corpus, version=1, files=30)
    stored = embeddings(folder)
    builder = worker("build", str(corpus), str(folder), "--delay", "0.05", "--small-batches")
    # Kill it at a random moment after its first vectors were committed (70 texts take 3.5 s).
    deadline = time.monotonic() + 30
    while embeddings(folder) == stored and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(seed).uniform(0.0, 2.5))
    builder.send_signal(signal.SIGKILL)
    builder.wait(timeout=30)
    assert builder.returncode == -signal.SIGKILL
    # Whatever was committed is a complete state: it opens, answers, and quotes verbatim.
    survivor = qa.load_index(folder, embedder=FakeEmbedder())
    assert 100 <= len(survivor) <= 150
    answer = survivor.answer("What does the museum keep?", 3)
    for quote in answer.quotes:
        text = (corpus / quote.source).read_text(encoding="utf-8")
        assert text[quote.start_char : quote.end_char] == quote.text
    # The rerun embeds only what was not stored before the kill.
    counting = FakeEmbedder()
    resumed = qa.build_index(corpus, folder, embedder=counting)
    assert resumed.report is not None
    assert counting.encoded < 70, "the rerun started over"
    assert len(resumed) == 150 and not resumed.changes()
    assert not any(p.name.startswith(".tmp-") for p in folder.iterdir())
