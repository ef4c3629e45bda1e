"""A corpus folder read whole: every article with its paragraphs, unreadable files skipped with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS

from qa.errors import CorpusError
from qa.ingest.corpus import read_corpus
from qa.ingest.readers.text import decoded as decode_text
from qa.text.passages import split_passages


def test_seed_files_give_28_paragraphs_one_per_line() -> None:
    corpus = read_corpus(SEEDS)
    counts = {}
    for document in corpus.documents:
        passages = split_passages(document)
        counts[document.source] = len(passages)
        lines = document.text.split("\n")
        for passage in passages:
            assert passage.start_line == passage.end_line == passage.paragraph
            assert passage.text == lines[passage.paragraph - 1]
    assert counts == {"000_3ff9e896d4582ee2.txt": 10, "001_9dcbbab14ab930fe.txt": 9, "004_87c802f936a4d6e3.txt": 9}


def test_binary_and_non_utf8_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Readable.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "ignored.bin").write_bytes(b"PK")
    corpus = read_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["good.txt"]
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert set(reasons) == {"binary.txt", "latin1.txt"}
    assert "binary" in reasons["binary.txt"] and "UTF-8" in reasons["latin1.txt"]


def test_recursive_md_and_hidden_folders(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "x.md").write_text("Nested.", encoding="utf-8")
    (tmp_path / ".qa-index").mkdir()
    (tmp_path / ".qa-index" / "y.txt").write_text("Hidden.", encoding="utf-8")
    assert [d.source for d in read_corpus(tmp_path).documents] == ["sub/deeper/x.md"]


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "nope")
    (tmp_path / "only.bin").write_bytes(b"x")
    with pytest.raises(CorpusError, match="no readable"):
        read_corpus(tmp_path)


def test_decode_rejects_nul_bytes() -> None:
    with pytest.raises(CorpusError, match="binary"):
        decode_text(b"abc\x00def")


@pytest.mark.parametrize("limit", ["10", float("nan"), 0, None])
def test_a_size_limit_that_is_not_a_positive_number_is_a_settings_error(limit: object) -> None:
    import qa

    with pytest.raises(qa.SettingsError, match="max_file_mb"):
        read_corpus(SEEDS, max_file_mb=limit)  # type: ignore[arg-type]
    assert read_corpus(SEEDS, max_file_mb=1).documents
