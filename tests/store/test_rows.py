"""The writer's rows: totals kept by difference, passages with windows and sentences, files, and stored vectors."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.build.splitting import PassageRow
from qa.ingest.sources import Signature
from qa.store import database as db
from qa.store import rows
from qa.store.codec import encode_vector, vector_id
from qa.store.rows import Totals
from qa.text.passages import Passage, text_sha256

DIMENSION = 4


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(tmp_path / "index", create=True)
    yield connection
    connection.close()


def passage_row(
    source: str,
    paragraph: int,
    text: str,
    *,
    windows: int = 1,
    sentences: int = 0,
    page: int | None = None,
    section: str | None = None,
) -> PassageRow:
    passage = Passage(
        source, paragraph, paragraph, paragraph, 0, len(text), text, text_sha256(text), page, page, 1, section
    )
    return PassageRow(
        passage=passage,
        windows=tuple((n, n + 1) for n in range(windows)),
        hashes=tuple(f"{source}#{paragraph}/w{n}" for n in range(windows)),
        terms=" ".join(text.lower().split()),
        sketch=b"\x01\x02",
        sentences=tuple((n, n + 1) for n in range(sentences)),
        sentence_hashes=tuple(f"{source}#{paragraph}/s{n}" for n in range(sentences)),
    )


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


def count(connection: sqlite3.Connection, table: str) -> int:
    return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- Totals -------------------------------------------------------------------------------------


def test_totals_add_and_subtract_field_by_field() -> None:
    assert Totals(1, 2, 3) + Totals(10, 20, 30) == Totals(11, 22, 33)
    assert Totals(11, 22, 33) - Totals(1, 2, 3) == Totals(10, 20, 30)
    assert Totals() == Totals(0, 0, 0)


def test_totals_round_trip_through_meta_rows() -> None:
    totals = Totals(5, 8, 120)
    assert totals.as_meta() == {"passage_count": 5, "vector_count": 8, "token_total": 120}
    assert Totals.stored(totals.as_meta()) == totals


def test_stored_totals_default_to_zero_and_accept_numbers_as_text() -> None:
    assert Totals.stored({}) == Totals()
    assert Totals.stored({"passage_count": "7", "token_total": 3}) == Totals(7, 0, 3)


def test_stored_totals_that_are_not_whole_numbers_are_a_value_error() -> None:
    with pytest.raises(ValueError):
        Totals.stored({"passage_count": "many"})


# -- passages -----------------------------------------------------------------------------------


def test_inserting_a_passage_stores_it_with_its_windows_and_sentences(connection: sqlite3.Connection) -> None:
    row = passage_row("a.md", 2, "Lava flows downhill slowly", windows=3, sentences=2, page=4, section="Etna")
    added = rows.insert_passage(connection, row, generation=9)
    assert added == Totals(1, 3, 4)
    stored = connection.execute(
        "SELECT id, source, paragraph, text, sha256, page, end_page, page_paragraph, section, terms, length,"
        " signature, generation FROM passages"
    ).fetchone()
    pid = stored[0]
    assert stored[1:] == (
        "a.md",
        2,
        "Lava flows downhill slowly",
        text_sha256("Lava flows downhill slowly"),
        4,
        4,
        1,
        "Etna",
        "lava flows downhill slowly",
        4,
        b"\x01\x02",
        9,
    )
    windows = connection.execute("SELECT id, passage_id, start, end, sha256 FROM windows ORDER BY id").fetchall()
    assert windows == [(vector_id(pid, n), pid, n, n + 1, f"a.md#2/w{n}") for n in range(3)]
    sentences = connection.execute("SELECT passage_id, start, end, sha256 FROM sentences ORDER BY start").fetchall()
    assert sentences == [(pid, n, n + 1, f"a.md#2/s{n}") for n in range(2)]


def test_passage_ids_grow_and_are_never_reused_after_a_delete(connection: sqlite3.Connection) -> None:
    rows.insert_passage(connection, passage_row("a.txt", 1, "one"), 1)
    rows.insert_passage(connection, passage_row("a.txt", 2, "two"), 1)
    rows.drop_file(connection, "a.txt", 2, set())
    rows.insert_passage(connection, passage_row("b.txt", 1, "three"), 3)
    assert connection.execute("SELECT id FROM passages").fetchone()[0] == 3
    assert connection.execute("SELECT min(id) FROM windows").fetchone()[0] == vector_id(3, 0)


def test_a_passage_without_terms_counts_no_terms(connection: sqlite3.Connection) -> None:
    row = passage_row("a.txt", 1, "   ")
    assert rows.insert_passage(connection, row, 1) == Totals(1, 1, 0)
    assert connection.execute("SELECT terms, length FROM passages").fetchone() == ("", 0)


def test_a_row_whose_windows_and_hashes_disagree_is_refused(connection: sqlite3.Connection) -> None:
    good = passage_row("a.txt", 1, "text", windows=2)
    bad = PassageRow(good.passage, good.windows, good.hashes[:1], good.terms, good.sketch)
    with pytest.raises(ValueError), db.transaction(connection):
        rows.insert_passage(connection, bad, 1)
    assert count(connection, "passages") == count(connection, "windows") == 0


def test_dropping_a_file_removes_its_rows_and_remembers_its_vector_ids(connection: sqlite3.Connection) -> None:
    first = rows.insert_passage(connection, passage_row("a.txt", 1, "alpha beta", windows=2, sentences=2), 1)
    second = rows.insert_passage(connection, passage_row("a.txt", 2, "gamma", windows=1), 1)
    rows.insert_passage(connection, passage_row("b.txt", 1, "kept here", windows=1, sentences=2), 1)
    ids = [r[0] for r in connection.execute("SELECT id FROM windows WHERE passage_id IN (1, 2) ORDER BY id")]
    dropped: set[str] = {"earlier"}
    removed = rows.drop_file(connection, "a.txt", 5, dropped)
    assert removed == first + second == Totals(2, 3, 3)
    assert dropped == {"earlier", "a.txt#1/w0", "a.txt#1/w1", "a.txt#2/w0", "a.txt#1/s0", "a.txt#1/s1"}
    assert connection.execute("SELECT vector_id, generation FROM removed ORDER BY vector_id").fetchall() == [
        (i, 5) for i in ids
    ]
    assert [r[0] for r in connection.execute("SELECT DISTINCT source FROM passages")] == ["b.txt"]
    assert count(connection, "windows") == 1 and count(connection, "sentences") == 2


def test_dropping_an_unknown_file_changes_nothing(connection: sqlite3.Connection) -> None:
    rows.insert_passage(connection, passage_row("a.txt", 1, "alpha"), 1)
    dropped: set[str] = set()
    assert rows.drop_file(connection, "missing.txt", 2, dropped) == Totals()
    assert dropped == set() and count(connection, "removed") == 0 and count(connection, "passages") == 1


def test_dropping_a_file_of_more_passages_than_one_sql_list_takes_them_all(connection: sqlite3.Connection) -> None:
    for paragraph in range(1, 1203):
        rows.insert_passage(connection, passage_row("big.txt", paragraph, f"word{paragraph}"), 1)
    removed = rows.drop_file(connection, "big.txt", 2, set())
    assert removed == Totals(1202, 1202, 1202)
    assert count(connection, "passages") == count(connection, "windows") == 0
    assert count(connection, "removed") == 1202


def test_a_vector_id_removed_twice_keeps_the_later_generation(connection: sqlite3.Connection) -> None:
    rows.insert_passage(connection, passage_row("a.txt", 1, "alpha"), 1)
    connection.execute("INSERT INTO removed(vector_id, generation) VALUES (?, 2)", (vector_id(1, 0),))
    rows.drop_file(connection, "a.txt", 7, set())
    assert connection.execute("SELECT vector_id, generation FROM removed").fetchall() == [(vector_id(1, 0), 7)]


# -- files --------------------------------------------------------------------------------------


def test_files_are_recorded_replaced_counted_and_forgotten(connection: sqlite3.Connection) -> None:
    rows.write_file(connection, "a.txt", Signature(10, 111), "sha-a", "Title A", None)
    rows.write_file(connection, "b.pdf", Signature(20, 222), "sha-b", "", "encrypted PDF")
    before = time.time()
    rows.write_file(connection, "a.txt", Signature(11, 333), "sha-a2", "Title A2", None)
    assert rows.file_count(connection) == 2
    *fields, indexed = connection.execute("SELECT * FROM files WHERE source = 'a.txt'").fetchone()
    assert fields == ["a.txt", 11, 333, "sha-a2", "Title A2", None]
    # When it was read, for the documents list ("last indexed").
    assert before <= indexed <= time.time()
    rows.delete_file(connection, "a.txt")
    rows.delete_file(connection, "never.txt")
    assert rows.file_count(connection) == 1


def test_file_totals_count_indexed_files_and_list_skipped_ones_by_name(connection: sqlite3.Connection) -> None:
    for source, reason in [("z.txt", None), ("c.pdf", "encrypted"), ("a.txt", None), ("b.docx", "too large")]:
        rows.write_file(connection, source, Signature(1, 1), "sha", "", reason)
    assert rows.file_totals(connection) == (2, [("b.docx", "too large"), ("c.pdf", "encrypted")])


def test_file_totals_of_an_empty_index_are_zero(connection: sqlite3.Connection) -> None:
    assert rows.file_totals(connection) == (0, [])
    assert rows.file_count(connection) == 0


def test_a_file_skipped_for_an_empty_reason_is_still_skipped(connection: sqlite3.Connection) -> None:
    rows.write_file(connection, "a.txt", Signature(1, 1), "sha", "", "")
    assert rows.file_totals(connection) == (0, [("a.txt", "")])


# -- wipe ---------------------------------------------------------------------------------------


def test_wipe_empties_every_table_but_keeps_stored_vectors(connection: sqlite3.Connection) -> None:
    rows.insert_passage(connection, passage_row("a.txt", 1, "alpha", sentences=2), 1)
    rows.write_file(connection, "a.txt", Signature(1, 1), "sha", "", None)
    rows.drop_file(connection, "a.txt", 2, set())
    rows.insert_passage(connection, passage_row("b.txt", 1, "beta"), 3)
    connection.execute("INSERT INTO lexical_terms(term, col) VALUES ('beta', 0)")
    db.write_meta(connection, {"generation": 3})
    rows.store_vectors(connection, ["b.txt#1/w0"], unit(0)[None, :])
    with db.transaction(connection):
        rows.wipe(connection)
    for table in rows.TABLES:
        assert count(connection, table) == 0, table
    # Vectors are kept: a rebuild from scratch reuses those of unchanged text.
    assert count(connection, "embeddings") == 1


# -- stored vectors -----------------------------------------------------------------------------


def test_stored_vectors_are_found_good_by_their_hash(connection: sqlite3.Connection) -> None:
    rows.store_vectors(connection, ["h1", "h2"], np.stack([unit(1), unit(2)]))
    assert rows.good_vectors(connection, ["h1", "h2", "missing"], DIMENSION) == ({"h1", "h2"}, 0)
    (blob,) = connection.execute("SELECT vector FROM embeddings WHERE sha256 = 'h2'").fetchone()
    assert blob == encode_vector(unit(2))


def test_damaged_stored_vectors_are_counted_and_not_good(connection: sqlite3.Connection) -> None:
    rows.store_vectors(connection, ["good", "long", "nan"], np.stack([unit(1), unit(2) * 3, unit(3)]))
    connection.execute("UPDATE embeddings SET vector = ? WHERE sha256 = 'nan'", (encode_vector(np.full(4, np.nan)),))
    connection.execute("INSERT INTO embeddings(sha256, vector) VALUES ('short', ?)", (b"\x00" * 12,))
    connection.execute("INSERT INTO embeddings(sha256, vector) VALUES ('text', 'not a vector')")
    good, damaged = rows.good_vectors(connection, ["good", "long", "nan", "short", "text", "missing"], DIMENSION)
    assert good == {"good"} and damaged == 4


def test_storing_a_vector_again_replaces_a_damaged_one(connection: sqlite3.Connection) -> None:
    connection.execute("INSERT INTO embeddings(sha256, vector) VALUES ('h', ?)", (b"\x00" * 3,))
    assert rows.good_vectors(connection, ["h"], DIMENSION) == (set(), 1)
    rows.store_vectors(connection, ["h"], unit(5)[None, :])
    assert rows.good_vectors(connection, ["h"], DIMENSION) == ({"h"}, 0)
    assert count(connection, "embeddings") == 1


def test_good_vectors_looks_up_more_hashes_than_one_sql_list(connection: sqlite3.Connection) -> None:
    hashes = [f"h{n}" for n in range(1100)]
    rows.store_vectors(connection, hashes, np.stack([unit(n) for n in range(1100)]))
    good, damaged = rows.good_vectors(connection, hashes, DIMENSION)
    assert good == set(hashes) and damaged == 0


def test_good_vectors_of_no_hashes_is_empty(connection: sqlite3.Connection) -> None:
    assert rows.good_vectors(connection, [], DIMENSION) == (set(), 0)


def test_storing_fewer_vectors_than_hashes_fails_and_stores_nothing(connection: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        rows.store_vectors(connection, ["a", "b"], unit(1)[None, :])
    assert count(connection, "embeddings") == 0 and not connection.in_transaction
