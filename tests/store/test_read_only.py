"""Read-only indexes serve: another user's copy or a read-only mount is read as it is; an empty database is named."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from test_concurrency import write_articles

import qa
from qa.store import database as db


def immutable_connection(folder: Path, monkeypatch: pytest.MonkeyPatch) -> sqlite3.Connection:
    """A connection as a reader gets one where it may not write and has no shared memory: immutable."""
    monkeypatch.setattr(db, "writable", lambda _folder: False)
    monkeypatch.setattr(db, "READ_MODES", ("immutable=1",))
    return db.connect(folder)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=3)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    return corpus, folder


def test_an_index_this_process_may_not_write_is_opened_read_only(
    built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _corpus, folder = built
    expected = [h.passage.key for h in qa.load_index(folder, embedder=FakeEmbedder()).search("Which museum?", 3)]
    before = db.database_path(folder).read_bytes()
    # As for another user's copy: the folder and its database may not be written.
    monkeypatch.setattr(db, "writable", lambda _folder: False)
    connection = db.connect(folder)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("INSERT INTO meta(key, value) VALUES ('x', '1')")
    connection.close()
    index = qa.load_index(folder, embedder=FakeEmbedder())
    assert [h.passage.key for h in index.search("Which museum?", 3)] == expected
    # The database itself was not written.
    assert db.database_path(folder).read_bytes() == before


def test_a_read_only_index_is_served_as_it_is_when_the_articles_change(
    built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, folder = built
    messages: list[str] = []
    live = qa.LiveIndex(folder, corpus, index=qa.load_index(folder, embedder=FakeEmbedder()), notify=messages.append)
    generation = live.current().generation
    (corpus / "article_0.txt").write_text("A new text about lighthouses.", encoding="utf-8")
    monkeypatch.setattr("qa.live.writable", lambda _folder: False)
    assert live.catch_up().generation == generation
    assert "read-only here: answering from it as it is" in messages[-1]
    # The watcher of a server reloads other writers' commits but never tries to write.
    live.check()
    assert live.status().state == "ready" and live.current().generation == generation


def _can_mount() -> bool:
    """Whether this process may make a private read-only mount (root, with mount namespaces)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="a read-only mount needs root and mount namespaces")
def test_an_index_on_a_read_only_mount_answers(built: tuple[Path, Path]) -> None:
    _corpus, folder = built
    script = (
        "import qa, sys; sys.path.insert(0, sys.argv[2]); from fakes import FakeEmbedder;"
        " index = qa.load_index(sys.argv[1], embedder=FakeEmbedder());"
        " print(index.search('Which museum?', 1)[0].passage.key)"
    )
    mounted = (
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"
        f" && ! touch {folder}/probe 2>/dev/null"
        f' && {sys.executable} -c "{script}" {folder} {Path(__file__).parent.parent}'
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", mounted], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("article_")


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "the file is empty (0 bytes)"), (b"<html>not a database</html>", "the file is not an SQLite database")],
)
def test_an_empty_or_foreign_database_file_is_named_as_damage(
    built: tuple[Path, Path], content: bytes, reason: str
) -> None:
    corpus, folder = built
    db.database_path(folder).write_bytes(content)
    with pytest.raises(qa.IndexCorruptError) as caught:
        qa.load_index(folder, embedder=FakeEmbedder())
    assert reason in str(caught.value) and "run `qa index --check`" in str(caught.value)
    # A writer sets it aside and rebuilds.
    report = qa.build_index(corpus, folder, embedder=FakeEmbedder(), verify=True).report
    assert report is not None and len(qa.load_index(folder, embedder=FakeEmbedder())) > 0


def test_another_users_index_changed_by_its_owner_is_never_called_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read without locks (immutable: no shared memory to be had), it is reloaded when its owner commits."""
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, files=200)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    monkeypatch.setattr(db, "writable", lambda _folder: False)
    monkeypatch.setattr("qa.live.writable", lambda _folder: False)
    monkeypatch.setattr(db, "READ_MODES", ("immutable=1",))
    fake = FakeEmbedder()
    live = qa.LiveIndex(folder, corpus, embedder=fake, index=qa.load_index(folder, embedder=fake))
    before = live.current().generation
    # The owner rewrites most of it meanwhile.
    monkeypatch.setattr(db, "writable", lambda _folder: True)
    write_articles(corpus, version=1, files=200)
    qa.build_index(corpus, folder, embedder=FakeEmbedder())
    monkeypatch.setattr(db, "writable", lambda _folder: False)
    outcomes = set()
    for question in ("Which museum keeps maps?", "What did the harbour record?", "ledger grain river"):
        try:
            live.current().answer(question)
            outcomes.add("answered")
        except qa.IndexAccessError as exc:
            assert "was changed by its owner while it was read here; ask again" in str(exc)
            outcomes.add("changed")
    assert outcomes <= {"answered", "changed"}, outcomes
    # The watcher reloads the owner's new state, which then answers.
    assert live.reload() and live.current().generation > before
    assert live.current().answer("Which museum keeps maps?").question


def test_an_error_met_after_the_owner_wrote_is_a_change_not_damage(
    built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _corpus, folder = built
    served = immutable_connection(folder, monkeypatch)
    malformed = sqlite3.DatabaseError("database disk image is malformed")
    # Unchanged since it was opened: an error of a damaged file is damage.
    assert isinstance(db.failure(folder, malformed, served), qa.IndexCorruptError)
    # Written by its owner since: the same error means "changed while read".
    with db.database_path(folder).open("ab") as handle:
        handle.write(b"\0" * 4096)
    changed = db.failure(folder, malformed, served)
    assert isinstance(changed, qa.IndexAccessError) and "changed by its owner" in str(changed)
    # A connection opened after the change, or none known, meets damage as damage (never hidden for good).
    fresh = db.connect(folder)
    assert isinstance(db.failure(folder, malformed, fresh), qa.IndexCorruptError)
    assert isinstance(db.failure(folder, malformed), qa.IndexCorruptError)
    served.close()
    fresh.close()


def test_a_replica_never_updates_the_index_and_picks_up_its_writers_commits(built: tuple[Path, Path]) -> None:
    """``qa serve --read-only``: a replica of an index another process writes."""
    corpus, folder = built
    fake = FakeEmbedder()
    messages: list[str] = []
    replica = qa.LiveIndex(
        folder,
        corpus,
        embedder=fake,
        index=qa.load_index(folder, embedder=fake),
        read_only=True,
        notify=messages.append,
    )
    generation = replica.current().generation
    (corpus / "article_9.txt").write_text("A new text about lighthouses and their keepers.", encoding="utf-8")
    replica.check()
    assert replica.current().generation == generation and not replica.may_write()
    assert replica.catch_up().generation == generation and "read-only here" in messages[-1]
    # The writer (another process: `qa index`) commits; the replica serves it.
    qa.build_index(corpus, folder, embedder=fake)
    replica.check()
    assert replica.current().generation > generation
    assert "article_9.txt" in replica.current().manifest.files


def test_a_replica_never_builds_rebuilds_or_re_points(built: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, folder = built
    # No index to open: said, and nothing is created.
    with pytest.raises(qa.IndexNotFoundError):
        qa.LiveIndex(tmp_path / "none", corpus, embedder=FakeEmbedder(), read_only=True).current()
    assert not (tmp_path / "none").exists()
    # Another spelling of the corpus (a link to it): an updating live index would re-point; a replica writes nothing.
    (tmp_path / "alias").symlink_to(corpus)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    replica = qa.LiveIndex(folder, tmp_path / "alias", embedder=FakeEmbedder(), read_only=True)
    replica.catch_up()
    replica.check()
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith("index.db-")}
    assert after == {name: data for name, data in before.items() if not name.startswith("index.db-")}


def test_a_change_is_judged_against_the_connection_that_met_the_error(
    built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a later connection (the watcher's look every 2 s) made the served snapshot's errors "damage"."""
    _corpus, folder = built
    served = immutable_connection(folder, monkeypatch)
    with db.database_path(folder).open("ab") as handle:
        handle.write(bytes(4096))
    # The watcher connects again to the changed file ...
    db.connect(folder).close()
    malformed = sqlite3.DatabaseError("database disk image is malformed")
    # ... yet an error on the connection opened before the change is still the owner's change.
    assert isinstance(db.failure(folder, malformed, served), qa.IndexAccessError)
    served.close()


def test_a_replica_shows_its_state_and_keeps_one_model(built: tuple[Path, Path]) -> None:
    corpus, folder = built
    fake = FakeEmbedder()
    replica = qa.LiveIndex(folder, corpus, embedder=fake, read_only=True)
    index = replica.current()
    status = replica.status()
    # Before: generation 0, 0 files, 0 paragraphs until the writer's next commit.
    assert (status.generation, status.passages, status.files) == (index.generation, len(index), 3)
    qa.build_index(corpus, folder, embedder=fake, verify=True)
    write_articles(corpus, version=1, files=3)
    qa.build_index(corpus, folder, embedder=fake)
    assert replica.reload() and replica.current().embedder() is fake


def test_a_replica_whose_corpus_folder_is_elsewhere_still_serves_and_reloads(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    _corpus, folder = built
    fake = FakeEmbedder()
    messages: list[str] = []
    replica = qa.LiveIndex(folder, tmp_path / "not-here", embedder=fake, read_only=True, notify=messages.append)
    # A replica on another host without the articles: it answers (no quote can be checked, as each answer says).
    assert replica.catch_up().generation == replica.current().generation
    replica.check()
    assert replica.status().state == "ready"
