"""Every public entry point checks its arguments; every failure is a QAError with a clear message."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from numbers import Integral
from pathlib import Path

import numpy as np
import pytest
from conftest import write_corpus
from fakes import FakeEmbedder
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import qa
from qa import config
from qa.errors import SettingsError, shown
from qa.store import freeze
from qa.store.segments import checksum as _checksum
from qa.store.vectors import BaseVectors, exact_search

PROPERTY = hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
RETRIEVERS = ("dense", "lexical", "hybrid")
SURROGATES = ["who \ud800", "\udfff", "Etna \udc80 volcano", "\ud83d"]


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> qa.Index:
    """One small index for the many read-only checks of this module."""
    root = tmp_path_factory.mktemp("validation")
    corpus = write_corpus(root / "corpus")
    return qa.build_index(corpus, root / "index", embedder=FakeEmbedder(), settings=qa.Settings(threshold=0.2))


def set_meta(folder: Path, **values: object) -> None:
    """Overwrite rows of the index's meta table (values stored as JSON, as the writer does)."""
    with sqlite3.connect(folder / "index.db") as connection:
        connection.executemany(
            "UPDATE meta SET value = ? WHERE key = ?", [(json.dumps(v), k) for k, v in values.items()]
        )


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retriever", "bm25"),
        ("retriever", ""),
        ("retriever", None),
        ("fusion", "sum"),
        ("fusion", 1),
        ("model", ""),
        ("model", None),
        ("context", "yes"),
        ("lexical_title", 1),
        ("threshold", 1.5),
        ("threshold", -1.01),
        ("threshold", math.nan),
        ("threshold", "0.3"),
        ("threshold", True),
        ("confident", 2),
        ("confident", math.inf),
        ("quote_confident", -2.0),
        ("dense_weight", 1.1),
        ("dense_weight", -0.1),
        ("dense_weight", None),
        ("highlight_bar", -0.1),
        ("highlight_bar", 3.5),
        ("highlight_bar", math.nan),
        ("highlight_within", -1.0),
        ("highlight_within", math.inf),
        ("quote_margin", -0.01),
        ("quote_margin", math.nan),
        ("duplicate_jaccard", 1.5),
        ("duplicate_jaccard", -0.5),
        ("batch_size", 0),
        ("batch_size", True),
        ("batch_size", 8.0),
        ("candidates", 0),
        ("candidates", -5),
        ("answer_k", 0),
        ("answer_k", 101),
        ("answer_k", False),
        ("rrf_k", 0),
        ("max_question_chars", 0),
        ("max_question_chars", "2000"),
        ("window_overlap", -1),
        ("window_overlap", 2.5),
    ],
)
def test_settings_refuse_bad_values(field: str, value: object) -> None:
    with pytest.raises(SettingsError, match=field):
        qa.Settings(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=field):
        qa.Settings().with_(**{field: value})


@pytest.mark.parametrize(
    "changes",
    [
        {"threshold": -1, "confident": 1, "quote_confident": None},
        {"threshold": None, "confident": None},
        {"dense_weight": 0, "duplicate_jaccard": 1},
        {"highlight_bar": 3, "highlight_within": 0, "quote_margin": 0},
        {"window_overlap": 0, "answer_k": 100, "candidates": 1, "rrf_k": 1},
        {"batch_size": np.int64(16), "threshold": np.float32(0.25)},
        {"retriever": "lexical", "fusion": "rrf"},
    ],
)
def test_settings_accept_edge_values(changes: dict[str, object]) -> None:
    settings = qa.Settings().with_(**changes)
    for name, value in changes.items():
        got = getattr(settings, name)
        assert got == (pytest.approx(float(value)) if isinstance(value, np.floating) else value)  # type: ignore[arg-type]
    # numpy numbers are stored as plain Python numbers.
    assert type(settings.batch_size) is int and type(settings.dense_weight) is float


def test_settings_refuse_unknown_names_and_huge_values_are_shown_short() -> None:
    with pytest.raises(SettingsError, match="unknown setting colour"):
        qa.Settings().with_(colour="blue")
    with pytest.raises(SettingsError) as caught:
        qa.Settings(retriever="x" * 10_000)  # type: ignore[arg-type]
    assert len(str(caught.value)) < 200


def test_shown_cuts_long_values_and_survives_unprintable_ones() -> None:
    assert shown("abc") == "'abc'"
    assert len(shown("x" * 5000)) < 120
    assert "int" in shown(10**5000)


# -- k, question, retriever -------------------------------------------------------------------


BAD_K = [0, -1, True, False, 1.5, 2.0, math.nan, math.inf, "3", None, [3], np.float64(2.0)]


@pytest.mark.parametrize("k", BAD_K, ids=repr)
@pytest.mark.parametrize("call", ["search", "rank", "answer"])
def test_bad_k_is_a_query_error(shared_index: qa.Index, call: str, k: object) -> None:
    if call == "answer" and k is None:
        # For answer, None means settings.answer_k.
        assert shared_index.answer("Etna volcano", None).found
        return
    with pytest.raises(qa.QueryError, match="k must be a whole number"):
        getattr(shared_index, call)("Etna volcano", k)


@pytest.mark.parametrize("k", [1, 10**9, 10**100, np.int64(2)], ids=repr)
def test_large_and_numpy_k_are_accepted(shared_index: qa.Index, k: int) -> None:
    hits = shared_index.search("Etna volcano", k)
    assert 1 <= len(hits) <= len(shared_index)
    assert hits[0].source == "volcano.txt"


def test_a_bool_k_given_by_position_is_refused(shared_index: qa.Index) -> None:
    with pytest.raises(qa.QueryError, match="got True"):
        shared_index.search("Etna volcano", True)


@pytest.mark.parametrize("question", SURROGATES, ids=repr)
@pytest.mark.parametrize("retriever", RETRIEVERS)
@pytest.mark.parametrize("call", ["search", "rank", "answer"])
def test_broken_unicode_is_a_query_error(shared_index: qa.Index, call: str, retriever: str, question: str) -> None:
    with pytest.raises(qa.QueryError, match="broken Unicode"):
        getattr(shared_index, call)(question, retriever=retriever)


def test_broken_unicode_in_history_is_a_query_error(shared_index: qa.Index) -> None:
    with pytest.raises(qa.QueryError, match="broken Unicode"):
        shared_index.answer("and the bakery?", history=["who runs \ud800 it"])
    with pytest.raises(qa.QueryError, match="list of earlier questions"):
        shared_index.answer("and the bakery?", history="Who owns the bakery?")
    with pytest.raises(qa.QueryError, match="list of earlier questions"):
        shared_index.answer("and the bakery?", history=[b"bytes"])  # type: ignore[list-item]


@pytest.mark.parametrize("question", [None, b"Etna", 3, ["Etna"]], ids=repr)
@pytest.mark.parametrize("call", ["search", "rank", "answer"])
def test_a_question_that_is_not_text_is_a_query_error(shared_index: qa.Index, call: str, question: object) -> None:
    with pytest.raises(qa.QueryError, match="must be text"):
        getattr(shared_index, call)(question)


@pytest.mark.parametrize("retriever", ["", "bm25", 1, ["dense"], "DENSE"], ids=repr)
@pytest.mark.parametrize("call", ["search", "rank", "answer"])
def test_an_unknown_retriever_is_a_query_error(shared_index: qa.Index, call: str, retriever: object) -> None:
    with pytest.raises(qa.QueryError, match="unknown retriever"):
        getattr(shared_index, call)("Etna volcano", retriever=retriever)


def test_messages_never_echo_a_long_input(shared_index: qa.Index) -> None:
    long = "volcano " * 1000
    failures: list[Callable[[], object]] = [
        lambda: shared_index.search(long),
        lambda: shared_index.answer(long),
        lambda: shared_index.search("Etna", long),  # type: ignore[arg-type]
        lambda: shared_index.search("Etna", retriever=long),  # type: ignore[arg-type]
        lambda: shared_index.search("Etna", sources=[long]),
    ]
    for call in failures:
        with pytest.raises(qa.QueryError) as caught:
            call()
        assert len(str(caught.value)) < 250, str(caught.value)[:300]


# -- dimension mismatches ---------------------------------------------------------------------


def test_a_model_of_another_dimension_is_refused_when_loading(fake_index: qa.Index) -> None:
    with pytest.raises(qa.IndexMismatchError, match=r"256 dimensions.*gives 64"):
        qa.load_index(fake_index.folder, embedder=FakeEmbedder(dimension=64))


@pytest.mark.parametrize("merged", [False, True], ids=["delta", "base"])
def test_a_question_vector_of_another_dimension_is_refused_before_searching(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: bool
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0 if merged else 10_000)
    built = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder())
    assert (built.snapshot.base is not None) is merged
    # The model is only known to be wrong once it embeds a question (it loads lazily by name).
    index = qa.Index(built.folder, built.snapshot, settings=built.settings, embedder=FakeEmbedder(dimension=64))
    for retriever in ("dense", "hybrid"):
        with pytest.raises(qa.IndexMismatchError, match=r"64 dimensions.*256"):
            index.search("Etna volcano", retriever=retriever)
        with pytest.raises(qa.IndexMismatchError):
            index.answer("Etna volcano", retriever=retriever)
    assert index.search("Etna volcano", retriever="lexical")[0].source == "volcano.txt"


def test_vector_search_refuses_a_query_of_the_wrong_length(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    base = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder()).snapshot.base
    assert isinstance(base, BaseVectors)
    empty = np.zeros(0, dtype=np.int64)
    with pytest.raises(qa.IndexMismatchError, match="cannot search the vector file"):
        base.search(np.ones(64, dtype=np.float32), 3, empty)
    with pytest.raises(qa.IndexMismatchError, match="cannot search the stored vectors"):
        exact_search(np.eye(4, dtype=np.float32), np.arange(4), np.ones(3, dtype=np.float32), 2)


@pytest.mark.parametrize("merged", [False, True], ids=["delta", "base"])
def test_a_recorded_dimension_that_disagrees_with_the_vectors_is_named(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: bool
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0 if merged else 10_000)
    folder = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder()).folder
    set_meta(folder, dimension=128)
    expected = r"256 dimensions, the database 6 of 128.*qa index" if merged else r"stored vectors.*damaged.*qa index"
    with pytest.raises(qa.IndexCorruptError, match=expected):
        qa.load_index(folder)
    # `qa index` sees other build facts and rebuilds from scratch.
    repaired = qa.build_index(corpus, folder, embedder=FakeEmbedder())
    assert repaired.search("Etna volcano", k=1)[0].source == "volcano.txt"


@pytest.mark.parametrize("value", ["abc", 0, -3, True, 2.5, None], ids=repr)
def test_a_malformed_recorded_dimension_is_named(fake_index: qa.Index, value: object) -> None:
    set_meta(fake_index.folder, dimension=value)
    with pytest.raises(qa.IndexCorruptError, match=r"malformed \(dimension is .*qa index"):
        qa.load_index(fake_index.folder)


# -- damaged keyword segments -----------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-5])


def _garble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[10:40] = b"\x00\xff" * 15
    path.write_bytes(bytes(data))


def _rewrite(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        array = np.load(path, allow_pickle=False)
        with path.open("wb") as handle:
            np.save(handle, change(array), allow_pickle=False)

    return rewrite


def _decreasing(indptr: np.ndarray) -> np.ndarray:
    out = indptr.copy()
    out[1], out[2] = out[2], out[1] - 1
    return out


DAMAGE = {
    "truncated": ("tf", _truncate, "unreadable"),
    "garbled header": ("indptr", _garble_header, "unreadable"),
    "2-d array": ("rows", _rewrite(lambda a: np.stack([a, a])), "shape"),
    "float indptr": ("indptr", _rewrite(lambda a: a.astype(np.float64)), "float64"),
    "indptr decreasing": ("indptr", _rewrite(_decreasing), "indptr"),
    "indptr short": ("indptr", _rewrite(lambda a: a[:-1]), "postings"),
    "tf short": ("tf", _rewrite(lambda a: a[:-1]), "frequencies"),
    "row out of range": ("rows", _rewrite(lambda a: a + 1000), "rows.npy names a document outside"),
    "negative row": ("rows", _rewrite(lambda a: a - 1000), "rows.npy"),
    "doc_ids unsorted": ("doc_ids", _rewrite(lambda a: a[::-1].copy()), "ascending"),
    "doc_len short": ("doc_len", _rewrite(lambda a: a[:-1]), "lengths"),
    "nan frequency": ("tf", _rewrite(lambda a: np.where(np.arange(len(a)) == 0, np.nan, a).astype(a.dtype)), "tf.npy"),
    "object array": ("doc_len", lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "unreadable"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("checksum_agrees", [False, True], ids=["checksum-off", "checksum-agrees"])
def test_a_damaged_keyword_segment_is_named_and_repaired(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, checksum_agrees: bool
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    index = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder())
    segment = index.folder / index.snapshot.meta.lexical_file
    name, damage_file, expected = DAMAGE[damage]
    damage_file(segment / f"{name}.npy")
    if checksum_agrees:
        # Past the checksum (as if the writer itself wrote bad arrays): the layout checks catch it.
        set_meta(index.folder, lexical_sha256=_checksum(segment))
    else:
        expected = "checksum mismatch"
    with pytest.raises(qa.IndexCorruptError, match=rf"{segment.name}.*{expected}.*run `qa index`"):
        qa.load_index(index.folder, embedder=FakeEmbedder())
    # What `qa index` runs: a verifying build rewrites the segment from the database.
    repaired = qa.build_index(corpus, index.folder, embedder=FakeEmbedder(), verify=True)
    assert repaired.report is not None and any("rebuilt" in r for r in repaired.report.repaired)
    assert repaired.search("sourdough bread", k=1, retriever="lexical")[0].source == "bakery.md"


def test_a_term_list_that_disagrees_with_the_segment_is_named(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(freeze, "MERGE_MIN", 0)
    folder = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder()).folder
    with sqlite3.connect(folder / "index.db") as connection:
        connection.execute("UPDATE lexical_terms SET col = col + 100000")
    index = qa.load_index(folder, embedder=FakeEmbedder())
    with pytest.raises(qa.IndexCorruptError, match="does not match the term list"):
        index.search("sourdough bread", retriever="lexical")


# -- building ---------------------------------------------------------------------------------


def test_building_into_a_file_is_an_access_error(corpus: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a folder")
    with pytest.raises(qa.IndexAccessError, match="is a file"):
        qa.build_index(corpus, target, embedder=FakeEmbedder())
    with pytest.raises(qa.IndexAccessError, match="lies under the file"):
        qa.build_index(corpus, target / "sub", embedder=FakeEmbedder())
    assert target.read_text() == "not a folder"
    with pytest.raises(qa.IndexNotFoundError, match="is a file"):
        qa.load_index(target)


@pytest.mark.parametrize("kind", ["file", "missing", "none", "empty"])
def test_a_corpus_that_is_not_a_folder_is_a_corpus_error(tmp_path: Path, kind: str) -> None:
    paths: dict[str, object] = {"file": tmp_path / "a.txt", "missing": tmp_path / "nope", "none": None, "empty": ""}
    (tmp_path / "a.txt").write_text("Etna erupts.")
    with pytest.raises(qa.CorpusError):
        qa.build_index(paths[kind], tmp_path / "i", embedder=FakeEmbedder())  # type: ignore[arg-type]
    assert not (tmp_path / "i").exists()


def test_arguments_of_the_wrong_type_are_qa_errors(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(qa.IndexAccessError, match="must be a path"):
        qa.build_index(corpus, None, embedder=FakeEmbedder())  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"qa\.Settings"):
        qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder(), settings={"threshold": 0.2})  # type: ignore[arg-type]
    with pytest.raises(qa.IndexNotFoundError, match="must be a path"):
        qa.load_index(None)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"qa\.Settings"):
        qa.ensure_index(tmp_path / "i", corpus, settings="fast")  # type: ignore[arg-type]
    assert not (tmp_path / "i").exists()


def test_existing_settings_still_build_and_answer(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c")
    settings = qa.Settings(threshold=0.05, confident=0.99, fusion="rrf").with_(answer_k=3)
    index = qa.build_index(corpus, tmp_path / "i", embedder=FakeEmbedder(), settings=settings)
    assert index.settings.answer_k == 3 and index.settings.fusion == "rrf"
    assert index.answer("Who trains apprentices?").found


# -- properties -------------------------------------------------------------------------------

#: Text with lone surrogates and control characters sprinkled in.
TEXT = st.lists(
    st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr), st.sampled_from(["\x00", "\n", " ", "Etna"])),
    max_size=40,
).map("".join)
ANY_K = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
)


def valid_text(text: object) -> bool:
    """Whether ``text`` is text every entry point takes: a string of real characters (no lone surrogates)."""
    if not isinstance(text, str):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_question(question: object, limit: int = 2000) -> bool:
    """Whether ``question`` is a question every entry point answers: text, not blank, within the limit."""
    return valid_text(question) and 0 < len(str(question).strip()) <= limit


def valid_k(k: object) -> bool:
    """Whether ``k`` is a whole number of at least 1 (numpy's too, never a bool)."""
    return isinstance(k, Integral) and not isinstance(k, bool) and k >= 1


@PROPERTY
@given(question=TEXT, retriever=st.sampled_from(RETRIEVERS))
def test_any_valid_text_searches_and_any_other_is_a_query_error(
    shared_index: qa.Index, question: str, retriever: str
) -> None:
    if valid_question(question):
        hits = shared_index.search(question, retriever=retriever)  # type: ignore[arg-type]
        assert len(hits) <= 5 and [h.rank for h in hits] == list(range(1, len(hits) + 1))
        answer = shared_index.answer(question, retriever=retriever)  # type: ignore[arg-type]
        assert answer.question == question.strip() and all(q.text == q.passage.text for q in answer.quotes)
    else:
        for call in (shared_index.search, shared_index.answer):
            with pytest.raises(qa.QueryError):
                call(question, retriever=retriever)  # type: ignore[operator]


@PROPERTY
@given(k=st.one_of(ANY_K, st.integers(1, 10**6), st.integers(1, 50).map(np.int64)))
def test_any_whole_k_of_at_least_one_searches_and_any_other_is_a_query_error(shared_index: qa.Index, k: object) -> None:
    if valid_k(k):
        assert 0 < len(shared_index.search("Etna volcano", k)) <= min(int(k), len(shared_index))  # type: ignore[call-overload]
        assert len(shared_index.rank("Etna volcano", k).hits) <= int(k)  # type: ignore[arg-type, call-overload]
    else:
        for call in (shared_index.search, shared_index.rank):
            with pytest.raises(qa.QueryError, match="k must be a whole number"):
                call("Etna volcano", k)  # type: ignore[operator]
    # An answer takes no k as its default (settings.answer_k).
    if k is None or valid_k(k):
        answer = shared_index.answer("Etna volcano", k)  # type: ignore[arg-type]
        assert len(answer.quotes) + len(answer.more) <= (5 if k is None else int(k))  # type: ignore[call-overload]
    else:
        with pytest.raises(qa.QueryError, match="k must be a whole number"):
            shared_index.answer("Etna volcano", k)  # type: ignore[arg-type]


@PROPERTY
@given(retriever=st.one_of(st.none(), st.text(max_size=8), st.integers(), st.sampled_from(RETRIEVERS)))
def test_a_known_retriever_searches_and_any_other_is_a_query_error(shared_index: qa.Index, retriever: object) -> None:
    if retriever is None or retriever in RETRIEVERS:
        assert shared_index.search("Etna volcano", retriever=retriever)  # type: ignore[arg-type]
    else:
        with pytest.raises(qa.QueryError, match="unknown retriever"):
            shared_index.search("Etna volcano", retriever=retriever)  # type: ignore[arg-type]


@PROPERTY
@given(history=st.lists(st.one_of(TEXT, st.none(), st.integers()), max_size=3), question=TEXT)
def test_a_history_of_text_answers_and_any_other_is_a_query_error(
    shared_index: qa.Index, history: list[object], question: str
) -> None:
    if valid_question(question) and all(valid_text(earlier) for earlier in history):
        answer = shared_index.answer(question, history=history)  # type: ignore[arg-type]
        assert answer.searched.startswith(" ".join(question.split())[:20]) or answer.searched == question.strip()
    else:
        with pytest.raises(qa.QueryError):
            shared_index.answer(question, history=history)  # type: ignore[arg-type]


NUMBERS = st.one_of(
    st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), st.text(max_size=3)
)


@PROPERTY
@given(field=st.sampled_from([f for f in qa.Settings.__dataclass_fields__ if f != "model"]), value=NUMBERS)
def test_any_setting_value_is_accepted_or_a_settings_error(field: str, value: object) -> None:
    try:
        settings = qa.Settings(**{field: value})  # type: ignore[arg-type]
    except SettingsError:
        return
    # What is accepted can be used: the derived level is a number.
    assert math.isfinite(settings.quote_level)


@st.composite
def in_range(draw: st.DrawFn) -> tuple[str, object]:
    """A setting and a value inside its documented range (whole numbers whole, real numbers finite)."""
    whole, real = config._WHOLE, config._REAL
    name = draw(st.sampled_from(sorted([*whole, *real])))
    if name in whole:
        low, high = whole[name]
        return name, draw(st.integers(low, high if high is not None else 10**6))
    low, high, _ = real[name]
    top = high if high is not None else 1e6
    # max_file_mb must be above 0; the others may be at their lowest.
    value = draw(st.floats(low, top, exclude_min=name == "max_file_mb", allow_nan=False))
    return name, value


@PROPERTY
@given(choice=in_range())
def test_every_value_in_a_settings_range_is_accepted_and_kept(choice: tuple[str, object]) -> None:
    name, value = choice
    settings = qa.Settings(**{name: value})  # type: ignore[arg-type]
    assert getattr(settings, name) == value and type(getattr(settings, name)) is type(value)


@pytest.fixture(scope="module")
def shared_backend(shared_index: qa.Index) -> Iterator[object]:
    """The chat server's backend over the shared index (no HTTP: the same function /ask calls)."""
    from qa.web.backend import ChatBackend

    backend = ChatBackend(shared_index)
    yield backend
    backend.close()


ANY_SOURCES = st.one_of(
    st.none(), st.text(max_size=20), st.lists(st.one_of(st.text(max_size=20), st.integers(), st.none()), max_size=3)
)


@PROPERTY
@given(
    question=st.one_of(TEXT, st.integers(), st.none(), st.floats()),
    k=st.one_of(ANY_K, st.integers(1, 100)),
    sources=st.one_of(ANY_SOURCES, st.lists(st.sampled_from(["volcano.txt", "nested/", "bakery.md"]), min_size=1)),
)
def test_the_http_ask_answers_valid_requests_and_refuses_the_rest_in_the_answer_shape(
    shared_backend: object, question: object, k: object, sources: object
) -> None:
    data = shared_backend.ask(question, k, sources)  # type: ignore[attr-defined]
    assert {"question", "searched", "found", "confident", "confidence", "quotes", "more", "warnings"} <= set(data)
    valid = (
        valid_question(question)
        and (k is None or (valid_k(k) and int(k) <= 100))  # type: ignore[call-overload]
        and (sources is None or (isinstance(sources, list) and set(sources) <= {"volcano.txt", "nested/", "bakery.md"}))
    )
    if valid:
        assert "error" not in data and data["found"] in (True, False) and data["question"] == str(question).strip()
        allowed = ("volcano.txt", "nested/rivers.txt", "bakery.md") if not sources else tuple(sources)
        assert all(q["source"].startswith(allowed) for q in data["quotes"])  # type: ignore[arg-type]
    else:
        assert data["error"] and data["found"] is False and data["quotes"] == []
        # A refused question is echoed only in part.
        assert len(data["question"]) <= 81
