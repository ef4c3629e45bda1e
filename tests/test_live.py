"""The live index: updates in the background while questions are answered, commits from other processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import filelock
import pytest
from fakes import FakeEmbedder
from test_concurrency import worker, write_articles
from workers import SlowEmbedder, article

import qa


def test_status_shows_a_running_update_while_answers_keep_coming(tmp_path: Path) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=4)
    first = qa.build_index(corpus, folder, embedder=FakeEmbedder())
    live = qa.LiveIndex(folder, corpus, embedder=SlowEmbedder(0.05), index=first)
    for number in range(4, 12):
        (corpus / f"article_{number}.txt").write_text(article(number, 0), encoding="utf-8")
    seen: list[qa.LiveStatus] = []
    answers = 0
    update = threading.Thread(target=live.refresh)
    update.start()
    while update.is_alive():
        seen.append(live.status())
        # The last committed state answers meanwhile.
        assert live.current().answer("Which museum keeps maps?", 1).quotes
        answers += 1
        time.sleep(0.01)
    update.join()
    updating = [s for s in seen if s.state == "updating"]
    assert updating and any(s.files_pending > 0 for s in updating) and answers > 5
    assert "Updating (" in updating[-1].describe()
    assert live.status().state == "ready" and len(live.current()) == 60


def test_commits_of_another_process_are_picked_up(tmp_path: Path) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=4)
    live = qa.LiveIndex(folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()))
    before = live.current().generation
    assert not live.reload()
    (corpus / "article_9.txt").write_text(article(9, 0), encoding="utf-8")
    other = worker("build", str(corpus), str(folder))
    assert other.wait(timeout=120) == 0
    assert live.reload()
    assert live.current().generation == before + 1 and len(live.current()) == 25


def test_busy_writer_is_reported_without_waiting_when_asked(tmp_path: Path) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=2)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    busy = pytest.raises(qa.IndexBusyError, match="another index update is running")
    with filelock.FileLock(str(folder / "writer.lock")), busy:
        qa.build_index(corpus, folder, embedder=FakeEmbedder(), wait=False)


def test_an_update_that_would_leave_nothing_keeps_the_last_state(tmp_path: Path) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=2)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    for path in corpus.iterdir():
        path.write_text("   \n", encoding="utf-8")
    with pytest.raises(qa.CorpusError, match="no paragraphs"):
        qa.build_index(corpus, folder, embedder=FakeEmbedder())
    kept = qa.load_index(folder, embedder=FakeEmbedder())
    assert len(kept) == 10
