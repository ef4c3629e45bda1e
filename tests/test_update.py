"""Running the writer for a program (qa.update): paths and settings checked, the model chosen, the corpus recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_corpus
from fakes import FakeEmbedder

import qa
import qa.update as update
from qa.errors import CorpusError, IndexAccessError, QAError, SettingsError
from qa.store.runs import BuildOptions, UpdateHooks, UpdateProgress
from qa.text.passages import make_document


def manifest(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return data


# -- display_path ------------------------------------------------------------------------------


def test_a_path_inside_the_working_folder_is_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert update.display_path(tmp_path / "corpus" / "nested") == "corpus/nested"
    assert update.display_path(Path("corpus/../corpus")) == "corpus"
    assert update.display_path(tmp_path) == "."


def test_a_path_outside_the_working_folder_is_shown_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert update.display_path(Path("../corpus")) == (tmp_path / "corpus").resolve().as_posix()


# -- check_settings ----------------------------------------------------------------------------


def test_no_settings_means_the_defaults() -> None:
    assert update.check_settings(None) == qa.Settings()


def test_settings_given_are_used_as_they_are() -> None:
    settings = qa.Settings(threshold=0.3)
    assert update.check_settings(settings) is settings


@pytest.mark.parametrize(("value", "kind"), [({"threshold": 0.3}, "dict"), ("defaults", "str"), (1, "int")])
def test_anything_but_settings_is_refused_naming_its_type(value: object, kind: str) -> None:
    with pytest.raises(SettingsError, match=rf"^settings must be a qa\.Settings, not {kind}$"):
        update.check_settings(value)


# -- index_folder ------------------------------------------------------------------------------


def test_an_index_folder_may_be_a_string_a_path_or_not_yet_exist(tmp_path: Path) -> None:
    assert update.index_folder(str(tmp_path / "index")) == tmp_path / "index"
    assert update.index_folder(tmp_path / "a" / "b" / "c") == tmp_path / "a" / "b" / "c"
    assert update.index_folder(tmp_path) == tmp_path
    # Only checked: nothing is created.
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("value", [None, 42, b"index", "", ["index"]])
def test_an_index_folder_that_is_not_a_path_is_refused(value: object) -> None:
    with pytest.raises(IndexAccessError, match="the index folder must be a path, not"):
        update.index_folder(value)


def test_a_file_in_place_of_the_index_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("not a folder", encoding="utf-8")
    with pytest.raises(IndexAccessError, match=r"it is a file; choose a folder \(--index\)"):
        update.index_folder(tmp_path / "index")


def test_an_index_folder_under_a_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(IndexAccessError, match=f"it lies under the file {blocker}"):
        update.index_folder(blocker / "deeper" / "index")


# -- corpus_folder -----------------------------------------------------------------------------


def test_a_corpus_folder_that_exists_is_taken_as_a_string_or_a_path(corpus: Path) -> None:
    assert update.corpus_folder(corpus) == corpus
    assert update.corpus_folder(str(corpus)) == corpus


@pytest.mark.parametrize("value", [None, 3.5, b"corpus", ""])
def test_a_corpus_that_is_not_a_path_is_refused(value: object) -> None:
    with pytest.raises(CorpusError, match="the corpus must be a folder path, not"):
        update.corpus_folder(value)


def test_a_file_given_as_the_corpus_is_refused(corpus: Path) -> None:
    with pytest.raises(CorpusError, match="is a file, not a folder of articles"):
        update.corpus_folder(corpus / "volcano.txt")


def test_a_missing_corpus_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus folder not found"):
        update.corpus_folder(tmp_path / "missing")


# -- build_options -----------------------------------------------------------------------------


def test_build_options_carry_every_choice_and_hook() -> None:
    said: list[str] = []
    seen: list[UpdateProgress] = []
    commits: list[int] = []
    options = update.build_options(
        progress=True,
        wait=False,
        verify=True,
        notify=said.append,
        on_progress=seen.append,
        on_commit=commits.append,
        backend=None,
    )
    assert (options.progress_bar, options.wait, options.verify, options.backend) == (True, False, True, None)
    options.hooks.notify("hello")
    options.hooks.on_progress(UpdateProgress("done"))
    options.hooks.on_commit(3)
    assert said == ["hello"] and seen == [UpdateProgress("done")] and commits == [3]
    assert update.ignore("anything") is None


# -- update_index ------------------------------------------------------------------------------


def test_an_update_indexes_the_corpus_and_reports_it(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    report = update.update_index(corpus, folder, embedder=FakeEmbedder())
    assert report.files == 3 and report.skipped == ()
    assert report.passages == len(qa.load_index(folder, embedder=FakeEmbedder())) > 0
    assert report.embedded > 0 and report.model == "fake-embedder"
    # The index folder records where the corpus is from there, so that it can be found again.
    recorded = manifest(folder)["corpus"]
    assert isinstance(recorded, str) and (folder / recorded).resolve() == corpus.resolve()


def test_an_update_with_nothing_changed_embeds_nothing(corpus: Path, tmp_path: Path) -> None:
    fake = FakeEmbedder()
    update.update_index(corpus, tmp_path / "index", embedder=fake)
    before = fake.encoded
    again = update.update_index(corpus, tmp_path / "index", embedder=fake)
    assert again.embedded == 0 and again.updated_files == 0 and fake.encoded == before


def test_the_label_is_the_corpus_as_seen_from_the_working_folder(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    update.update_index(corpus, "index", embedder=FakeEmbedder())
    assert manifest(tmp_path / "index")["corpus_label"] == "corpus"
    # A label given wins, even an empty one.
    update.update_index(corpus, "other", embedder=FakeEmbedder(), label="")
    assert manifest(tmp_path / "other")["corpus_label"] == ""


def test_the_model_is_loaded_by_name_only_when_none_is_given(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[str] = []

    def load(model: str) -> FakeEmbedder:
        loaded.append(model)
        return FakeEmbedder(name=model)

    monkeypatch.setattr(update, "load_embedder", load)
    update.update_index(corpus, tmp_path / "given", embedder=FakeEmbedder())
    assert loaded == []
    report = update.update_index(corpus, tmp_path / "named", settings=qa.Settings(model="my-model"))
    assert loaded == ["my-model"] and report.model == "my-model"


def test_the_size_limit_of_the_settings_is_applied(corpus: Path, tmp_path: Path) -> None:
    (corpus / "huge.txt").write_text("Enormous ledger of grain shipments.\n" * 150, encoding="utf-8")
    report = update.update_index(
        corpus, tmp_path / "index", settings=qa.Settings(max_file_mb=0.001), embedder=FakeEmbedder()
    )
    assert [name for name, _ in report.skipped] == ["huge.txt"]
    assert "over the 0.001 MB limit" in report.skipped[0][1]


@pytest.mark.parametrize(
    ("corpus_arg", "settings", "out", "error"),
    [
        ("missing", None, "index", CorpusError),
        ("corpus", {"threshold": 1}, "index", SettingsError),
        ("corpus", None, "blocker.txt/index", IndexAccessError),
    ],
)
def test_a_bad_argument_is_refused_before_any_model_or_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    corpus_arg: str,
    settings: object,
    out: str,
    error: type[QAError],
) -> None:
    write_corpus(tmp_path / "corpus")
    (tmp_path / "blocker.txt").write_text("x", encoding="utf-8")

    def never(model: str) -> FakeEmbedder:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(update, "load_embedder", never)
    with pytest.raises(error):
        update.update_index(tmp_path / corpus_arg, tmp_path / out, settings=settings)  # type: ignore[arg-type]
    assert not (tmp_path / "index").exists()


def test_a_corpus_without_readable_text_is_a_corpus_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError):
        update.update_index(empty, tmp_path / "index", embedder=FakeEmbedder())


# -- update_documents --------------------------------------------------------------------------


def test_documents_in_memory_are_indexed_with_the_index_folder_as_corpus(tmp_path: Path) -> None:
    documents = [
        make_document("d1", "Photosynthesis turns light into sugar.\n\nChlorophyll absorbs red light."),
        make_document("d2", "Glaciers carve valleys over thousands of years."),
    ]
    folder = tmp_path / "index"
    report = update.update_documents(documents, folder, settings=qa.Settings(), embedder=FakeEmbedder(), label="beir")
    assert report.files == 2 and report.passages == 3
    summary = manifest(folder)
    assert summary["corpus_label"] == "beir"
    assert isinstance(summary["corpus"], str) and (folder / summary["corpus"]).resolve() == folder.resolve()
    index = qa.load_index(folder, embedder=FakeEmbedder())
    assert {p.source for p in index.passages} == {"d1", "d2"}


def test_no_documents_is_a_corpus_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no documents to index"):
        update.update_documents([], tmp_path / "index", settings=qa.Settings(), embedder=FakeEmbedder(), label="x")
    assert not (tmp_path / "index").exists()


def test_documents_are_refused_a_file_in_place_of_the_index_folder(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("x", encoding="utf-8")
    documents = [make_document("d1", "Some text here.")]
    with pytest.raises(IndexAccessError, match="is a file"):
        update.update_documents(
            documents, tmp_path / "index", settings=qa.Settings(), embedder=FakeEmbedder(), label=""
        )
    assert (tmp_path / "index").read_text(encoding="utf-8") == "x"


def test_update_options_reach_the_writer(corpus: Path, tmp_path: Path) -> None:
    stages: list[str] = []
    commits: list[int] = []
    options = update.build_options(
        progress=False,
        wait=True,
        verify=False,
        notify=update.ignore,
        on_progress=lambda p: stages.append(p.stage),
        on_commit=commits.append,
        backend=None,
    )
    update.update_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), options=options)
    assert stages and stages[-1] == "done" and "scanning" in stages
    assert commits and all(isinstance(generation, int) for generation in commits)


def _told(said: list[str]) -> BuildOptions:
    return BuildOptions(hooks=UpdateHooks(notify=said.append))


def test_a_moved_corpus_is_re_pointed_without_embedding_anything(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    update.update_index(corpus, folder, embedder=FakeEmbedder(), label="corpus")
    moved = corpus.rename(tmp_path / "moved")
    said: list[str] = []
    fake = FakeEmbedder()
    report = update.update_index(moved, folder, embedder=fake, label="moved", options=_told(said))
    # Before: "0 files updated", exit 0, and the index still pointed at the old folder.
    assert report.embedded == 0 and fake.encoded == 0
    assert said == ["The corpus of this index was corpus; it is now moved (0 files read again, 0 texts embedded)."]
    recorded = manifest(folder)
    assert (folder / str(recorded["corpus"])).resolve() == moved.resolve() and recorded["corpus_label"] == "moved"
    index = qa.load_index(folder, embedder=FakeEmbedder())
    assert index.corpus == moved.resolve()
    assert index.answer("Which bakery bakes sourdough?").quotes or index.answer("sourdough").more


def test_a_copied_corpus_is_the_one_quotes_are_checked_against(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    update.update_index(corpus, folder, embedder=FakeEmbedder())
    copy = Path(shutil.copytree(corpus, tmp_path / "copy"))
    report = update.update_index(copy, folder, embedder=FakeEmbedder())
    assert report.embedded == 0
    index = qa.load_index(folder, embedder=FakeEmbedder())
    assert index.corpus == copy.resolve()
    # The old folder is no longer read: emptied, it changes no answer.
    for path in corpus.rglob("*.*"):
        path.write_text("Nothing here any more.", encoding="utf-8")
    hits = index.search("sourdough bread", 3)
    answer = index.answer("sourdough bread", 3)
    assert hits and not answer.warnings


def test_a_corpus_that_is_gone_is_said_once_with_how_to_re_point(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    update.update_index(corpus, folder, embedder=FakeEmbedder(), label="corpus")
    live = qa.LiveIndex(folder, index=qa.load_index(folder, embedder=FakeEmbedder()))
    shutil.rmtree(corpus)
    gone = r"The corpus folder corpus \(/.*\) is not there any more: .*qa index NEWPLACE"
    with pytest.raises(CorpusError, match=gone):
        live.catch_up()
    answer = live.current().answer("sourdough bread", 3)
    assert answer.quotes == () and len(answer.warnings) == 1 and "qa index NEWPLACE --out INDEX" in answer.warnings[0]
    assert answer.message == "The articles cannot be read: their folder is not there any more."
    # The server's watcher reports it as its failure, and keeps the last state.
    live.check()
    assert live.status().state == "failed" and "not there any more" in live.status().error


def test_an_index_folder_moved_away_from_its_corpus_still_finds_it_and_says_nothing_moved(
    corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    update.update_index(corpus, tmp_path / "a" / "index", embedder=FakeEmbedder())
    folder = (tmp_path / "a" / "index").rename(tmp_path / "b")
    # Its relative record now points nowhere: the absolute one finds the corpus.
    assert qa.load_index(folder, embedder=FakeEmbedder()).corpus == corpus.resolve()
    said: list[str] = []
    report = update.update_index(corpus, folder, embedder=FakeEmbedder(), options=_told(said))
    assert said == [] and report.embedded == 0
    recorded = manifest(folder)["corpus"]
    assert isinstance(recorded, str) and (folder / recorded).resolve() == corpus.resolve()
