"""The manifest: ``manifest.json`` written atomically, the corpus it records, and folders without a database refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qa.errors import IndexFormatError, IndexMismatchError, IndexNotFoundError
from qa.store.database import DATABASE, FORMAT_VERSION, Meta
from qa.store.manifest import MANIFEST, Manifest, recorded_corpus, refuse_old_format, write_manifest


def meta(**changes: object) -> Meta:
    values: dict[str, object] = {
        "format_version": FORMAT_VERSION,
        "model": "fake-embedder",
        "dimension": 8,
        "normalized": True,
        "context": False,
        "lexical_title": True,
        "corpus": "../corpus",
        "corpus_label": "corpus",
        "generation": 4,
    }
    return Meta(**{**values, **changes})  # type: ignore[arg-type]


def write_summary(folder: Path, content: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MANIFEST
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# -- write_manifest -----------------------------------------------------------------------------


def test_the_summary_holds_every_meta_field_and_the_counts(tmp_path: Path) -> None:
    written = meta(base_file="vectors-x.faiss", vector_count=9, token_total=120)
    write_manifest(tmp_path, written, passages=7, files=3)
    summary = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    assert summary == {**dataclasses.asdict(written), "passage_count": 7, "file_count": 3, "database": DATABASE}


def test_the_summarys_passage_count_is_the_one_given_not_the_metas(tmp_path: Path) -> None:
    write_manifest(tmp_path, meta(passage_count=1), passages=5, files=2)
    assert json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))["passage_count"] == 5


def test_the_summary_replaces_the_old_one_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_summary(tmp_path, {"stale": True})
    write_manifest(tmp_path, meta(generation=1), passages=1, files=1)
    write_manifest(tmp_path, meta(generation=2), passages=2, files=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]
    summary = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    assert summary["generation"] == 2 and "stale" not in summary


def test_the_summary_keeps_non_ascii_labels_readable(tmp_path: Path) -> None:
    write_manifest(tmp_path, meta(corpus_label="Bücher – 書籍"), passages=0, files=0)
    text = (tmp_path / MANIFEST).read_text(encoding="utf-8")
    assert "Bücher – 書籍" in text and text.endswith("}\n")


def test_a_failed_summary_write_leaves_the_old_summary_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_manifest(tmp_path, meta(generation=1), passages=1, files=1)
    before = (tmp_path / MANIFEST).read_bytes()

    def refuse(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("qa.store.manifest.os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_manifest(tmp_path, meta(generation=2), passages=2, files=1)
    assert (tmp_path / MANIFEST).read_bytes() == before


# -- the Manifest view --------------------------------------------------------------------------


def test_a_manifest_is_frozen_and_defaults_to_no_files_and_sentence_vectors() -> None:
    manifest = Manifest(FORMAT_VERSION, "m", 8, True, "inner_product", False, True, 2, 3, "c", "c", 1)
    assert manifest.files == {} and manifest.skipped == {} and manifest.sentences is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.model = "other"  # type: ignore[misc]


def test_manifests_do_not_share_their_default_dicts() -> None:
    first = Manifest(FORMAT_VERSION, "m", 8, True, "inner_product", False, True, 0, 0, "c", "c", 1)
    second = Manifest(FORMAT_VERSION, "m", 8, True, "inner_product", False, True, 0, 0, "c", "c", 1)
    first.files["a.txt"] = "x"
    assert second.files == {}


# -- recorded_corpus ----------------------------------------------------------------------------


def test_the_recorded_corpus_is_found_relative_to_the_index_folder(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "index").mkdir()
    write_manifest(tmp_path / "index", meta(corpus="../corpus"), passages=0, files=0)
    assert recorded_corpus(tmp_path / "index") == str(tmp_path / "index" / ".." / "corpus")


def test_an_absolute_recorded_corpus_is_kept_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    write_summary(tmp_path / "index", {"corpus": str(tmp_path / "elsewhere")})
    assert recorded_corpus(tmp_path / "index") == str(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        '"corpus"',
        "{}",
        '{"corpus": ""}',
        '{"corpus": 5}',
        '{"corpus": ["c"]}',
        '{"corpus": null}',
        '{"corpus": "gone"}',
        '{"corpus": "file.txt"}',
        '{"corpus": "c\\u0000d"}',
    ],
    ids=[
        "garbled",
        "list",
        "string",
        "no-corpus",
        "empty",
        "number",
        "list-corpus",
        "null",
        "missing-folder",
        "a-file",
        "nul",
    ],
)
def test_a_recorded_corpus_that_is_unusable_is_none(tmp_path: Path, content: str) -> None:
    folder = tmp_path / "index"
    write_summary(folder, content)
    (folder / "file.txt").write_text("x", encoding="utf-8")
    assert recorded_corpus(folder) is None


def test_no_summary_or_an_unreadable_one_records_no_corpus(tmp_path: Path) -> None:
    assert recorded_corpus(tmp_path / "nowhere") is None
    (tmp_path / "bytes").mkdir()
    (tmp_path / "bytes" / MANIFEST).write_bytes(b'{"corpus": "\xff\xfe"}')
    assert recorded_corpus(tmp_path / "bytes") is None
    (tmp_path / "dir" / MANIFEST).mkdir(parents=True)
    assert recorded_corpus(tmp_path / "dir") is None


# -- refuse_old_format --------------------------------------------------------------------------


def test_a_folder_with_a_database_is_not_refused_whatever_its_summary_says(tmp_path: Path) -> None:
    write_summary(tmp_path, {"format_version": 1})
    (tmp_path / DATABASE).write_bytes(b"")
    refuse_old_format(tmp_path)


def test_a_folder_without_database_or_summary_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match=r"no index in .*qa index"):
        refuse_old_format(tmp_path)
    with pytest.raises(IndexNotFoundError):
        refuse_old_format(tmp_path / "missing")


def test_a_format_1_folder_is_a_format_error_naming_its_version(tmp_path: Path) -> None:
    write_summary(tmp_path, {"format_version": 1, "model": "all-MiniLM-L6-v2"})
    (tmp_path / "vectors.faiss").write_bytes(b"old")
    with pytest.raises(IndexFormatError, match=r"older format \(1\).*run `qa index` to rebuild"):
        refuse_old_format(tmp_path)


def test_a_summary_of_the_current_format_without_its_database_is_not_found_not_old(tmp_path: Path) -> None:
    write_summary(tmp_path, {"format_version": FORMAT_VERSION})
    with pytest.raises(IndexNotFoundError, match=r"index\.db .* is missing") as caught:
        refuse_old_format(tmp_path)
    assert not isinstance(caught.value, IndexMismatchError)


@pytest.mark.parametrize("content", ["{garbled", "[]", "{}", '{"format_version": "3"}', '{"format_version": true}'])
def test_a_summary_that_names_no_version_is_no_index_not_an_old_format(tmp_path: Path, content: str) -> None:
    write_summary(tmp_path, content)
    with pytest.raises(IndexNotFoundError, match="names no format") as caught:
        refuse_old_format(tmp_path)
    assert not isinstance(caught.value, IndexFormatError)


def test_a_database_that_is_a_folder_is_not_taken_for_one(tmp_path: Path) -> None:
    (tmp_path / DATABASE).mkdir()
    with pytest.raises(IndexNotFoundError):
        refuse_old_format(tmp_path)


def test_a_summary_of_a_later_format_is_a_mismatch_not_an_old_format(tmp_path: Path) -> None:
    write_summary(tmp_path, {"format_version": FORMAT_VERSION + 1})
    with pytest.raises(IndexMismatchError, match=f"index format {FORMAT_VERSION + 1} is not") as caught:
        refuse_old_format(tmp_path)
    assert not isinstance(caught.value, IndexFormatError)
