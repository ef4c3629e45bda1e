"""The documents panel without the web (qa.web.documents): list, add and remove files of a live index."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from support.samples import encrypted_pdf

import qa
from qa.errors import QueryError
from qa.web.access import INDEX_READ_ONLY, OPEN_NETWORK, READ_ONLY, Access
from qa.web.documents import Documents, Upload
from qa.web.uploads import TRASH, UPLOADS, UploadLimits

SETTINGS = qa.Settings(threshold=0.2)
LIGHTHOUSE = (
    "The lighthouse at Hook Head has guided ships into Waterford harbour for eight hundred years.\n"
    "\n"
    "Its keepers lived in the tower with their families until the light was automated.\n"
)
MURANO = "The glass museum on Murano shows vases blown by hand in the furnaces of the lagoon.\n"
ORIGINAL = ["bakery.md", "nested/rivers.txt", "volcano.txt"]


@pytest.fixture
def live(corpus: Path, tmp_path: Path, fake_index: qa.Index) -> qa.LiveIndex:
    return qa.LiveIndex(tmp_path / "index", corpus, settings=SETTINGS, embedder=FakeEmbedder(), index=fake_index)


@pytest.fixture
def documents(live: qa.LiveIndex) -> Documents:
    return Documents(live, Access.decide(read_only=False, open_network=False))


@pytest.fixture
def upload(tmp_path: Path) -> Callable[[str, str | bytes], tuple[str, Path]]:
    """An uploaded file as the web server hands it over: ``(name given, path of the upload)``."""
    received = tmp_path / "received"
    received.mkdir()
    count = [0]

    def make(name: str, content: str | bytes) -> tuple[str, Path]:
        count[0] += 1
        path = received / f"upload-{count[0]}"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return name, path

    return make


def corpus_files(corpus: Path) -> list[str]:
    return sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file())


def cited(live: qa.LiveIndex, question: str) -> list[str]:
    """The files of the quotes (not the further passages) answering ``question``, best first."""
    return [q.source for q in live.current().answer(question).quotes]


# -- listing -----------------------------------------------------------------------------------------------------


def test_listing_shows_every_indexed_file_sorted_by_path(documents: Documents) -> None:
    listing = documents.listing()
    assert [d.source for d in listing] == ORIGINAL
    assert all(d.skipped is None and d.paragraphs == 2 for d in listing)
    assert next(d for d in listing if d.source == "bakery.md").title == "The Corner Bakery"


# -- adding ------------------------------------------------------------------------------------------------------


def test_added_files_are_indexed_at_once(
    documents: Documents, live: qa.LiveIndex, corpus: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    result = documents.add([upload("hook.txt", LIGHTHOUSE), upload("murano.md", MURANO)])
    assert isinstance(result, Upload)
    assert [(a.name, a.source, a.outcome, a.reason) for a in result.added] == [
        ("hook.txt", f"{UPLOADS}/hook.txt", "added", ""),
        ("murano.md", f"{UPLOADS}/murano.md", "added", ""),
    ]
    assert result.paragraphs == {f"{UPLOADS}/hook.txt": 2, f"{UPLOADS}/murano.md": 1}
    assert result.skipped == {} and result.error == ""
    assert (corpus / UPLOADS / "hook.txt").read_text(encoding="utf-8") == LIGHTHOUSE

    # In the index now, without waiting for the watcher.
    assert cited(live, "Who lived in the lighthouse tower at Hook Head?")[:1] == [f"{UPLOADS}/hook.txt"]
    assert cited(live, "Where are the glass vases of Murano blown?")[:1] == [f"{UPLOADS}/murano.md"]
    assert [d.source for d in documents.listing()] == sorted([*ORIGINAL, f"{UPLOADS}/hook.txt", f"{UPLOADS}/murano.md"])


def test_an_upload_folder_of_the_servers_choice_receives_the_files(
    live: qa.LiveIndex, corpus: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    documents = Documents(live, Access.decide(read_only=False, open_network=False, folder="inbox/web"))
    (added,) = documents.add([upload("hook.txt", LIGHTHOUSE)]).added
    assert added.source == "inbox/web/hook.txt"
    assert "inbox/web/hook.txt" in live.current().manifest.files


def test_files_that_cannot_be_read_are_refused_with_the_readers_reason(
    documents: Documents, live: qa.LiveIndex, corpus: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    generation = live.current().generation
    result = documents.add(
        [
            upload("secret.pdf", encrypted_pdf()),
            upload("tool.exe", b"MZ\x90\x00"),
            upload("fake.pdf", LIGHTHOUSE),
            upload("binary.txt", b"text\x00with a NUL"),
        ]
    )
    outcomes = {a.name: (a.outcome, a.source, a.reason) for a in result.added}
    assert {name: outcome for name, (outcome, _, _) in outcomes.items()} == dict.fromkeys(outcomes, "refused")
    assert all(source == "" for _, source, _ in outcomes.values())
    assert "encrypted" in outcomes["secret.pdf"][2] and "password" in outcomes["secret.pdf"][2]
    assert outcomes["tool.exe"][2].startswith("unsupported type") and ".exe" in outcomes["tool.exe"][2]
    assert "not a PDF" in outcomes["fake.pdf"][2]
    assert "NUL" in outcomes["binary.txt"][2]
    assert result.paragraphs == {} and result.skipped == {}
    # Nothing written, nothing indexed again.
    assert corpus_files(corpus) == ORIGINAL
    assert live.current().generation == generation


def test_the_same_bytes_twice_are_a_duplicate(
    documents: Documents, live: qa.LiveIndex, corpus: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    first = documents.add([upload("hook.txt", LIGHTHOUSE), upload("hook copy.txt", LIGHTHOUSE)])
    assert [(a.outcome, a.source) for a in first.added] == [
        ("added", f"{UPLOADS}/hook.txt"),
        ("duplicate", f"{UPLOADS}/hook.txt"),
    ]
    again = documents.add([upload("other name.txt", LIGHTHOUSE)])
    (added,) = again.added
    assert (added.outcome, added.source) == ("duplicate", f"{UPLOADS}/hook.txt")
    assert f"{UPLOADS}/hook.txt" in added.reason
    # A file already in the corpus under another name.
    (copy,) = documents.add([upload("etna.txt", (corpus / "volcano.txt").read_bytes())]).added
    assert (copy.outcome, copy.source) == ("duplicate", "volcano.txt")
    assert corpus_files(corpus) == sorted([*ORIGINAL, f"{UPLOADS}/hook.txt"])


def test_too_many_files_are_refused_and_nothing_is_written(
    live: qa.LiveIndex, corpus: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    documents = Documents(live, Access.decide(read_only=False, open_network=False, limits=UploadLimits(max_files=2)))
    generation = live.current().generation
    files = [upload(f"article {n}.txt", f"Article {n} is about the harbour of town {n}.\n") for n in range(3)]
    with pytest.raises(QueryError, match="3 files"):
        documents.add(files)
    assert corpus_files(corpus) == ORIGINAL
    assert live.current().generation == generation
    # As many as allowed are fine.
    assert [a.outcome for a in documents.add(files[:2]).added] == ["added", "added"]


def test_a_file_over_the_size_limit_is_refused(
    live: qa.LiveIndex, corpus: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    limits = UploadLimits(max_file_mb=0.001)
    documents = Documents(live, Access.decide(read_only=False, open_network=False, limits=limits))
    (added,) = documents.add([upload("long.txt", "The harbour wall was rebuilt. " * 200)]).added
    assert added.outcome == "refused" and added.reason.startswith("too large")
    assert corpus_files(corpus) == ORIGINAL


@pytest.mark.parametrize(
    ("read_only", "open_network", "message"), [(True, False, READ_ONLY), (False, True, OPEN_NETWORK)]
)
def test_a_server_that_allows_no_changes_refuses_adding_and_removing(
    live: qa.LiveIndex,
    corpus: Path,
    upload: Callable[..., tuple[str, Path]],
    read_only: bool,
    open_network: bool,
    message: str,
) -> None:
    access = Access.decide(read_only=read_only, open_network=open_network)
    assert not access.changes and access.why_not == message
    documents = Documents(live, access)
    with pytest.raises(QueryError) as refused:
        documents.add([upload("hook.txt", LIGHTHOUSE)])
    assert str(refused.value) == message
    with pytest.raises(QueryError) as refused:
        documents.remove("volcano.txt")
    assert str(refused.value) == message
    assert corpus_files(corpus) == ORIGINAL
    assert sorted(live.current().manifest.files) == ORIGINAL
    # Listing is still allowed.
    assert [d.source for d in documents.listing()] == ORIGINAL


def test_read_only_wins_over_an_open_network() -> None:
    access = Access.decide(read_only=True, open_network=True)
    assert not access.changes and access.why_not == READ_ONLY
    assert Access.decide(read_only=False, open_network=False).changes


def test_a_server_of_an_index_it_may_not_write_adds_and_removes_nothing(
    fake_index: qa.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: an upload was written into the corpus, then indexing it crashed the request (EROFS)."""
    import httpx
    from conftest import serving

    monkeypatch.setattr("qa.live.writable", lambda _folder: False)
    with serving(fake_index) as base:
        # The page says why instead of offering the upload (its layout is in Gradio's config).
        config = httpx.get(f"{base}/config", timeout=30).text
        assert "this index is read-only here" in config
    access = Access.decide(read_only=False, open_network=False).for_index(False)
    assert not access.changes and access.why_not == INDEX_READ_ONLY
    assert Access.decide(read_only=False, open_network=False).for_index(True).changes


# -- removing ----------------------------------------------------------------------------------------------------


def test_remove_moves_the_file_to_the_trash_and_out_of_the_index(
    documents: Documents, live: qa.LiveIndex, corpus: Path, tmp_path: Path
) -> None:
    original = (corpus / "volcano.txt").read_bytes()
    assert cited(live, "Where is Mount Etna?")[:1] == ["volcano.txt"]

    said = documents.remove("volcano.txt")
    assert "volcano.txt was removed" in said
    assert not (corpus / "volcano.txt").exists()
    (kept,) = (tmp_path / "index" / TRASH).iterdir()
    # Named by its place in the index folder's trash, not by a path of the server.
    assert kept.name.endswith("-volcano.txt") and f"trash of the index folder as {kept.name}" in said
    assert str(kept.parent) not in said
    assert kept.read_bytes() == original

    assert "volcano.txt" not in live.current().manifest.files
    answer = live.current().answer("Where is Mount Etna?")
    assert all(q.source != "volcano.txt" for q in (*answer.quotes, *answer.more))
    assert [d.source for d in documents.listing()] == ["bakery.md", "nested/rivers.txt"]


def test_an_uploaded_file_can_be_removed_and_added_again(
    documents: Documents, live: qa.LiveIndex, upload: Callable[..., tuple[str, Path]]
) -> None:
    documents.add([upload("hook.txt", LIGHTHOUSE)])
    documents.remove(f"{UPLOADS}/hook.txt")
    assert f"{UPLOADS}/hook.txt" not in live.current().manifest.files
    # No longer a duplicate of anything.
    (added,) = documents.add([upload("hook.txt", LIGHTHOUSE)]).added
    assert (added.outcome, added.source) == ("added", f"{UPLOADS}/hook.txt")
    assert f"{UPLOADS}/hook.txt" in live.current().manifest.files


@pytest.mark.parametrize(
    "source",
    ["../outside.txt", "nested/../../outside.txt", "/etc/passwd", "..\\outside.txt", "C:\\outside.txt", ".hidden.txt"],
)
def test_paths_outside_the_corpus_are_refused(
    documents: Documents, live: qa.LiveIndex, corpus: Path, tmp_path: Path, source: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("Not an article of the corpus.\n", encoding="utf-8")
    with pytest.raises(QueryError):
        documents.remove(source)
    assert outside.read_text(encoding="utf-8") == "Not an article of the corpus.\n"
    assert corpus_files(corpus) == ORIGINAL
    assert not (tmp_path / "index" / TRASH).exists() or not any((tmp_path / "index" / TRASH).iterdir())


def test_an_absolute_path_to_a_corpus_file_is_refused(documents: Documents, corpus: Path) -> None:
    with pytest.raises(QueryError):
        documents.remove(str(corpus / "volcano.txt"))
    assert (corpus / "volcano.txt").is_file()


@pytest.mark.parametrize("source", ["", None, 3, ["volcano.txt"]])
def test_removing_needs_a_document_named(documents: Documents, corpus: Path, source: object) -> None:
    with pytest.raises(QueryError, match="choose a document"):
        documents.remove(source)
    assert corpus_files(corpus) == ORIGINAL


def test_removing_a_missing_file_is_an_error(documents: Documents, corpus: Path) -> None:
    with pytest.raises(QueryError, match=r"nowhere\.txt is not a document of this index"):
        documents.remove("nowhere.txt")
    # A file of the corpus the index never recorded is no document either: it stays where it is.
    (corpus / "deploy.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    with pytest.raises(QueryError, match="not a document of this index"):
        documents.remove("deploy.sh")
    assert (corpus / "deploy.sh").exists()
    with pytest.raises(QueryError):
        documents.remove("nested")


# -- at the same time as others ----------------------------------------------------------------------------------


def run_together(*jobs: Callable[[], object]) -> list[object]:
    """Run ``jobs`` in threads started at once; their results, or the exception each raised."""
    start = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = jobs[n]()
        except BaseException as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_two_uploads_at_once_lose_nothing(
    documents: Documents, live: qa.LiveIndex, upload: Callable[..., tuple[str, Path]]
) -> None:
    hook, murano = upload("hook.txt", LIGHTHOUSE), upload("murano.md", MURANO)
    results = run_together(lambda: documents.add([hook]), lambda: documents.add([murano]))
    for result, source in zip(results, (f"{UPLOADS}/hook.txt", f"{UPLOADS}/murano.md"), strict=True):
        assert isinstance(result, Upload), result
        assert result.error == "" and [a.outcome for a in result.added] == ["added"]
        # Each upload's own file is indexed when it returns.
        assert source in result.paragraphs
    files = live.current().manifest.files
    assert {f"{UPLOADS}/hook.txt", f"{UPLOADS}/murano.md", *ORIGINAL} == set(files)
    assert cited(live, "Who lived in the lighthouse tower at Hook Head?")[:1] == [f"{UPLOADS}/hook.txt"]


def test_an_upload_while_the_index_is_updated_elsewhere_loses_nothing(
    documents: Documents, live: qa.LiveIndex, corpus: Path, tmp_path: Path, upload: Callable[..., tuple[str, Path]]
) -> None:
    # Something else changes the corpus, so that the other updates have work to do.
    (corpus / "harbour.txt").write_text("The harbour of Cobh saw the last port of call of the Titanic.\n")
    hook, murano = upload("hook.txt", LIGHTHOUSE), upload("murano.md", MURANO)
    results = run_together(
        lambda: documents.add([hook]),
        lambda: qa.build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), settings=SETTINGS),
        live.check,
        lambda: documents.add([murano]),
    )
    assert not any(isinstance(result, BaseException) for result in results), results
    for result, source in zip(results[::3], (f"{UPLOADS}/hook.txt", f"{UPLOADS}/murano.md"), strict=True):
        # Indexed at once, or, when another update held the index, said so and indexed after it.
        assert isinstance(result, Upload)
        assert (result.error == "" and source in result.paragraphs) or result.error.startswith(
            "another update of the index is running"
        ), result
    live.check()
    assert set(live.current().manifest.files) == {
        *ORIGINAL,
        "harbour.txt",
        f"{UPLOADS}/hook.txt",
        f"{UPLOADS}/murano.md",
    }
    assert live.status().state == "ready"
    # A fresh reader of the folder sees the same.
    reopened = qa.load_index(tmp_path / "index", settings=SETTINGS, embedder=FakeEmbedder())
    assert set(reopened.manifest.files) == set(live.current().manifest.files)
