"""Keyword segments: the CSC matrix built from terms, written and checksummed, opened with every array checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorruptError
from qa.store.integrity import files_sha256
from qa.store.segments import Segment, array_files, checksum, write_segment

DOCUMENTS = [(3, "lava lava etna"), (5, "river sea"), (8, ""), (9, "etna river river river")]


def dense(segment: Segment, vocabulary: dict[str, int]) -> dict[str, dict[int, float]]:
    """Each term's ``{passage id: frequency}`` as the segment holds it."""
    out: dict[str, dict[int, float]] = {}
    for term, column in vocabulary.items():
        rows, tf = segment.postings(column)
        out[term] = {int(segment.doc_ids[r]): float(f) for r, f in zip(rows, tf, strict=True)}
    return out


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, str, dict[str, int]]:
    path = tmp_path / "lexical-abc"
    digest, vocabulary = write_segment(path, DOCUMENTS)
    return path, digest, vocabulary


def resave(path: Path, array: np.ndarray) -> str:
    """Write ``array`` over one of a segment's files; return the segment's new checksum."""
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
    return checksum(path.parent)


# -- building -----------------------------------------------------------------------------------


def test_a_built_segment_holds_each_terms_frequency_per_document() -> None:
    segment = Segment.build(DOCUMENTS)
    assert segment.vocabulary is not None
    assert dense(segment, segment.vocabulary) == {
        "lava": {3: 2.0},
        "etna": {3: 1.0, 9: 1.0},
        "river": {5: 1.0, 9: 3.0},
        "sea": {5: 1.0},
    }
    assert segment.doc_ids.tolist() == [3, 5, 8, 9]
    assert segment.doc_len.tolist() == [3.0, 2.0, 0.0, 4.0]
    assert len(segment) == 4 and segment.terms == 4


def test_columns_are_numbered_in_order_of_first_appearance() -> None:
    assert Segment.build(DOCUMENTS).vocabulary == {"lava": 0, "etna": 1, "river": 2, "sea": 3}


def test_postings_of_each_term_are_in_ascending_row_order() -> None:
    segment = Segment.build([(n, "common" + (" rare" if n % 3 == 0 else "")) for n in range(1, 40)])
    assert segment.vocabulary is not None
    for column in segment.vocabulary.values():
        rows, _ = segment.postings(column)
        assert np.all(np.diff(rows) > 0)
    assert segment.postings(segment.vocabulary["common"])[0].tolist() == list(range(39))


def test_postings_are_int64_rows_and_float64_frequencies() -> None:
    rows, tf = Segment.build(DOCUMENTS).postings(0)
    assert rows.dtype == np.int64 and tf.dtype == np.float64


def test_terms_are_split_on_any_whitespace() -> None:
    segment = Segment.build([(1, " a\tb\n a  ")])
    assert segment.vocabulary == {"a": 0, "b": 1}
    assert segment.doc_len.tolist() == [3.0]


def test_an_empty_segment_has_no_documents_and_no_terms() -> None:
    segment = Segment.build([])
    assert len(segment) == 0 and segment.terms == 0 and segment.vocabulary == {}
    assert segment.indptr.tolist() == [0]


def test_a_segment_of_documents_without_terms_has_rows_but_no_postings() -> None:
    segment = Segment.build([(1, ""), (2, "  ")])
    assert len(segment) == 2 and segment.terms == 0 and len(segment.rows) == 0
    assert segment.doc_len.tolist() == [0.0, 0.0]


def test_built_documents_may_come_from_any_iterable() -> None:
    segment = Segment.build(iter(DOCUMENTS))
    assert segment.doc_ids.tolist() == [3, 5, 8, 9]


# -- rows_of ------------------------------------------------------------------------------------


def test_rows_of_finds_the_row_of_each_passage_and_which_are_present() -> None:
    segment = Segment.build(DOCUMENTS)
    rows, found = segment.rows_of(np.array([9, 4, 3, 100, -1, 8], dtype=np.int64))
    assert found.tolist() == [True, False, True, False, False, True]
    assert rows[found].tolist() == [3, 0, 2]
    # Rows of absent passages stay inside the segment, so they can index its arrays safely.
    assert np.all((rows >= 0) & (rows < len(segment)))


def test_rows_of_an_empty_segment_or_no_passages_finds_nothing() -> None:
    rows, found = Segment.build([]).rows_of(np.array([1, 2], dtype=np.int64))
    assert rows.tolist() == [0, 0] and found.tolist() == [False, False]
    rows, found = Segment.build(DOCUMENTS).rows_of(np.array([], dtype=np.int64))
    assert rows.shape == found.shape == (0,) and found.dtype == bool


# -- writing and opening ------------------------------------------------------------------------


def test_a_written_segment_opens_with_the_same_matrix(written: tuple[Path, str, dict[str, int]]) -> None:
    path, digest, vocabulary = written
    opened = Segment.open(path, digest)
    built = Segment.build(DOCUMENTS)
    assert vocabulary == built.vocabulary
    assert opened.vocabulary is None and opened.path == path and opened.sha256 == digest
    assert built.vocabulary is not None
    assert dense(opened, vocabulary) == dense(built, built.vocabulary)
    for name in ("indptr", "rows", "tf", "doc_ids", "doc_len"):
        np.testing.assert_array_equal(getattr(opened, name), getattr(built, name))
        # Read into memory, never mapped: a file changed on disk cannot reach a search.
        assert not isinstance(getattr(opened, name), np.memmap)


def test_writing_returns_the_checksum_of_the_files_in_a_fixed_order(
    written: tuple[Path, str, dict[str, int]],
) -> None:
    path, digest, _ = written
    names = [p.name for p in array_files(path)]
    assert names == ["indptr.npy", "rows.npy", "tf.npy", "doc_ids.npy", "doc_len.npy"]
    assert digest == checksum(path) == files_sha256(array_files(path))
    assert sorted(p.name for p in path.iterdir()) == sorted(names)


def test_writing_leaves_no_temporary_folder_beside_the_segment(written: tuple[Path, str, dict[str, int]]) -> None:
    path, _, _ = written
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_any_changed_byte_changes_the_checksum(written: tuple[Path, str, dict[str, int]]) -> None:
    path, digest, _ = written
    tf = path / "tf.npy"
    data = bytearray(tf.read_bytes())
    data[-1] ^= 0x01
    tf.write_bytes(bytes(data))
    assert checksum(path) != digest


def test_an_empty_segment_is_written_and_opened(tmp_path: Path) -> None:
    digest, vocabulary = write_segment(tmp_path / "lexical-empty", [])
    opened = Segment.open(tmp_path / "lexical-empty", digest)
    assert vocabulary == {} and len(opened) == 0 and opened.terms == 0


def test_a_segment_with_a_wrong_checksum_is_damaged(written: tuple[Path, str, dict[str, int]]) -> None:
    path, digest, _ = written
    with pytest.raises(IndexCorruptError, match=r"lexical-abc is damaged \(checksum mismatch\).*qa index"):
        Segment.open(path, "0" * len(digest))


def test_without_verifying_the_checksum_is_taken_as_given(written: tuple[Path, str, dict[str, int]]) -> None:
    path, _, _ = written
    opened = Segment.open(path, "whatever", verify=False)
    assert opened.sha256 == "whatever" and len(opened) == 4


@pytest.mark.parametrize("verify", [True, False])
def test_a_missing_segment_folder_is_corrupt_not_an_os_error(tmp_path: Path, verify: bool) -> None:
    with pytest.raises(IndexCorruptError, match="lexical-gone is unreadable"):
        Segment.open(tmp_path / "lexical-gone", "x", verify=verify)


@pytest.mark.parametrize("verify", [True, False])
def test_a_missing_array_file_is_corrupt(written: tuple[Path, str, dict[str, int]], verify: bool) -> None:
    path, digest, _ = written
    (path / "doc_len.npy").unlink()
    with pytest.raises(IndexCorruptError, match="unreadable"):
        Segment.open(path, digest, verify=verify)


def test_an_array_file_replaced_by_a_folder_is_corrupt(written: tuple[Path, str, dict[str, int]]) -> None:
    path, digest, _ = written
    (path / "rows.npy").unlink()
    (path / "rows.npy").mkdir()
    with pytest.raises(IndexCorruptError, match="unreadable"):
        Segment.open(path, digest)


@pytest.mark.parametrize(
    "garble",
    [
        lambda data: b"",
        lambda data: data[:5],
        lambda data: data[:-3],
        lambda data: b"\x93NUMPY\x01\x00" + b"\xff" * 40,
        lambda data: b"not numpy at all",
    ],
    ids=["empty", "magic-only", "truncated", "bad-header", "not-numpy"],
)
def test_a_garbled_array_file_past_the_checksum_is_corrupt_naming_the_file(
    written: tuple[Path, str, dict[str, int]], garble: Callable[[bytes], bytes]
) -> None:
    path, _, _ = written
    target = path / "doc_ids.npy"
    target.write_bytes(garble(target.read_bytes()))
    with pytest.raises(IndexCorruptError, match=r"doc_ids\.npy"):
        Segment.open(path, checksum(path))


def test_a_pickled_object_array_is_refused_never_unpickled(written: tuple[Path, str, dict[str, int]]) -> None:
    path, _, _ = written
    with (path / "tf.npy").open("wb") as handle:
        np.save(handle, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(IndexCorruptError, match=r"tf\.npy.*unreadable|unreadable.*tf\.npy"):
        Segment.open(path, checksum(path))


# -- layout checks (arrays that pass the checksum, as if the writer wrote them wrong) -----------

LAYOUTS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray], str]] = {
    "indptr unsigned": ("indptr", lambda a: a.astype(np.uint64), "indptr.npy holds a uint64"),
    "indptr empty": ("indptr", lambda a: a[:0], "does not span"),
    "indptr not from 0": ("indptr", lambda a: a + 1, "does not span"),
    "indptr past the postings": ("indptr", lambda a: np.append(a[:-1], a[-1] + 1), "does not span"),
    "rows float": ("rows", lambda a: a.astype(np.float32), "rows.npy holds a float32"),
    "tf boolean": ("tf", lambda a: a > 0, "tf.npy holds a bool"),
    "tf long": ("tf", lambda a: np.append(a, 1.0).astype(a.dtype), "frequencies"),
    "tf negative": ("tf", lambda a: -a, "tf.npy holds a negative"),
    "tf infinite": ("tf", lambda a: np.where(np.arange(len(a)) == 1, np.inf, a).astype(a.dtype), "tf.npy"),
    "doc_ids duplicated": ("doc_ids", lambda a: np.array([3, 5, 5, 9], dtype=a.dtype), "not ascending"),
    "doc_ids negative": ("doc_ids", lambda a: a - 4, "not ascending"),
    "doc_ids scalar": ("doc_ids", lambda a: np.array(3, dtype=a.dtype), "shape ()"),
    "doc_ids text": ("doc_ids", lambda a: a.astype(str), "doc_ids.npy holds a <U"),
    "doc_len long": ("doc_len", lambda a: np.append(a, 1.0).astype(a.dtype), "lengths"),
    "doc_len negative": ("doc_len", lambda a: np.where(np.arange(len(a)) == 0, -1, a).astype(a.dtype), "doc_len"),
    "doc_len nan": ("doc_len", lambda a: np.full_like(a, np.nan), "doc_len.npy holds a negative or non-finite"),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_arrays_that_do_not_fit_together_are_damaged_naming_the_problem(
    written: tuple[Path, str, dict[str, int]], layout: str
) -> None:
    path, _, _ = written
    name, change, expected = LAYOUTS[layout]
    original = np.load(path / f"{name}.npy", allow_pickle=False)
    digest = resave(path / f"{name}.npy", change(original))
    with pytest.raises(IndexCorruptError, match="is damaged") as caught:
        Segment.open(path, digest)
    assert expected in str(caught.value)


def test_integer_frequencies_and_lengths_are_accepted(written: tuple[Path, str, dict[str, int]]) -> None:
    path, _, _ = written
    resave(path / "tf.npy", np.load(path / "tf.npy").astype(np.uint16))
    digest = resave(path / "doc_len.npy", np.load(path / "doc_len.npy").astype(np.int32))
    opened = Segment.open(path, digest)
    assert opened.postings(2)[1].tolist() == [1.0, 3.0]


def test_postings_of_documents_no_longer_listed_are_damaged(written: tuple[Path, str, dict[str, int]]) -> None:
    path, _, _ = written
    # Two documents dropped from both per-document arrays: the postings of rows 2 and 3 point past them.
    resave(path / "doc_ids.npy", np.load(path / "doc_ids.npy")[:2])
    digest = resave(path / "doc_len.npy", np.load(path / "doc_len.npy")[:2])
    with pytest.raises(IndexCorruptError, match=r"rows\.npy names a document outside 0\.\.1"):
        Segment.open(path, digest)
