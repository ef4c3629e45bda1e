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


@pytest.mark.parametrize(
    "failure",
    [
        qa.IndexAccessError("the index in idx cannot be used right now (database or disk is full); try again"),
        OSError(28, "No space left on device"),
    ],
)
def test_qa_ask_on_a_full_disk_answers_from_the_last_complete_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=2)
    said: list[str] = []
    live = qa.LiveIndex(
        folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()), notify=said.append
    )
    generation = live.current().generation
    (corpus / "article_5.txt").write_text(article(5, 0), encoding="utf-8")

    def full(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr("qa.live.build_index", full)
    # Before: `qa ask` failed with the disk's error.
    assert live.catch_up().generation == generation
    assert (
        said[-1].startswith("The index could not be updated (") and "answering from the last complete state" in said[-1]
    )
    assert live.current().answer("Which museum keeps maps?").question


def test_an_indexed_file_that_cannot_be_read_is_tried_once_not_every_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.ingest.sources as sources

    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=3)
    live = qa.LiveIndex(folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()))
    locked = corpus / "article_1.txt"
    access = sources.os.access
    read_entry = sources.read_entry

    def no_access(path: object, mode: int) -> bool:
        return False if str(path) == str(locked) else access(path, mode)  # type: ignore[arg-type]

    def denied(root: Path, entry: object, **kwargs: object) -> bytes:
        if str(getattr(entry, "path", "")) == str(locked):
            raise PermissionError(13, "Permission denied")
        return read_entry(root, entry, **kwargs)  # type: ignore[arg-type]

    # As for a file made unreadable (chmod 000) by another user: root reads everything.
    monkeypatch.setattr(sources.os, "access", no_access)
    monkeypatch.setattr(sources, "read_entry", denied)
    updates: list[int] = []
    build = qa.live.build_index

    def counted(*args: object, **kwargs: object) -> qa.Index:
        updates.append(1)
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("qa.live.build_index", counted)
    for _ in range(4):
        live.check()
    # Before: an update every round (every 2 s in a server), forever.
    assert len(updates) == 1 and live.status().state == "ready"
    assert "article_1.txt" in live.current().manifest.files
    # Readable again (its signature shows it), it is looked at again.
    monkeypatch.setattr(sources.os, "access", access)
    monkeypatch.setattr(sources, "read_entry", read_entry)
    locked.write_text(article(1, 1), encoding="utf-8")
    live.check()
    assert len(updates) == 2
