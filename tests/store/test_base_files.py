"""Base files changed under a running server: truncated or overwritten, they cannot crash it or change answers."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from test_concurrency import write_articles

import qa
from qa.store import database as db
from qa.store import freeze


@pytest.fixture(autouse=True)
def _always_freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every build writes its vectors and keywords into base files, however few."""
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)


QUESTIONS = ["Which museum keeps maps?", "What did the harbour record?", "When were the ledgers written?"]


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _overwrite_end(path: Path) -> None:
    # The size stays the same: only what is in the file changes.
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(os.urandom(size - size // 2))


def _replace(path: Path) -> None:
    path.unlink()
    path.write_bytes(b"\0" * 64)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "overwritten": _overwrite_end,
    "replaced": _replace,
}


def _base_files(folder: Path) -> dict[str, Path]:
    """The index's vector file and each keyword array file, by a short name."""
    meta = db.Meta.read(db.connect(folder), folder)
    assert meta.base_file, "the build froze no base"
    files = {"vectors": folder / meta.base_file}
    files.update({path.name: path for path in sorted((folder / meta.lexical_file).glob("*.npy"))})
    return files


def _answers(live: qa.LiveIndex) -> list[list[tuple[str, float]]]:
    index = live.current()
    return [[(hit.passage.key, round(hit.score, 6)) for hit in index.search(q, 5)] for q in QUESTIONS]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("target", ["vectors", "indptr.npy", "rows.npy", "tf.npy", "doc_ids.npy", "doc_len.npy"])
def test_a_base_file_damaged_under_a_live_index_changes_no_answer_and_is_reported_once(
    tmp_path: Path, damage: str, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=4)
    live = qa.LiveIndex(folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()))
    before = _answers(live)
    path = _base_files(folder)[target]
    DAMAGE[damage](path)
    with caplog.at_level(logging.WARNING, logger="qa.store.basefiles"):
        # Before the fix: SIGBUS (truncated), wrong passages with no warning (overwritten).
        assert _answers(live) == before
        assert _answers(live) == before
    reports = [r.getMessage() for r in caplog.records if r.name == "qa.store.basefiles"]
    assert len(reports) == 1 and str(path) in reports[0] and "run `qa index` to repair" in reports[0]
    # The next open sees the damage and names it; `qa index` (which verifies) repairs it.
    with pytest.raises(qa.IndexCorruptError, match="run `qa index`"):
        qa.load_index(folder, embedder=FakeEmbedder())
    qa.build_index(corpus, folder, embedder=FakeEmbedder(), verify=True)
    assert _answers(qa.LiveIndex(folder, corpus, index=qa.load_index(folder, embedder=FakeEmbedder()))) == before


def test_an_untouched_base_is_not_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=2)
    live = qa.LiveIndex(folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()))
    with caplog.at_level(logging.WARNING, logger="qa.store.basefiles"):
        _answers(live)
    assert not [r for r in caplog.records if r.name == "qa.store.basefiles"]
    assert live.current().snapshot.check_files() is None


def test_a_base_replaced_by_a_writers_newer_one_is_not_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=4)
    old = qa.build_index(corpus, folder, embedder=FakeEmbedder())
    old_base = _base_files(folder)["vectors"]
    write_articles(corpus, files=10)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    assert not old_base.exists(), "the update froze a new base and removed the old one"
    with caplog.at_level(logging.WARNING, logger="qa.store.basefiles"):
        assert old.search("Which museum keeps maps?", 3)
    assert not [r for r in caplog.records if r.name == "qa.store.basefiles"]


def test_a_base_file_truncated_under_a_running_http_server_changes_no_answer(tmp_path: Path) -> None:
    """The same through `qa serve`'s app: before, the process died of SIGBUS at the next question."""
    import httpx
    from conftest import serving

    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=4)
    live = qa.LiveIndex(folder, corpus, index=qa.build_index(corpus, folder, embedder=FakeEmbedder()))

    def answers(base: str) -> list[list[str]]:
        replies = [httpx.post(f"{base}/api/v1/answer", json={"question": q}, timeout=60).json() for q in QUESTIONS]
        return [[f"{quote['source']}#{quote['paragraph']}" for quote in reply["quotes"]] for reply in replies]

    with serving(live) as base:
        before = answers(base)
        for path in _base_files(folder).values():
            _truncate(path)
        assert answers(base) == before
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
