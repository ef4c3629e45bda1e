"""Evaluation data (qa.eval.questions): JSON-lines records, question files and BEIR folders, and their errors.

Every malformed input is an EvalDataError whose message names the file and the line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qa.errors import EvalDataError, QAError
from qa.eval.questions import Question, json_records, read_beir, read_questions


def lines(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def beir(
    root: Path,
    *,
    corpus: str | None = None,
    queries: str | None = None,
    qrels: str | None = None,
    split: str = "test",
) -> Path:
    """A BEIR folder under ``root``: two documents, three queries, judgements for two of them."""
    (root / "qrels").mkdir(parents=True)
    if corpus is None:
        corpus = lines(
            {"_id": "d1", "title": "Glaciers", "text": "Glaciers carve valleys."},
            {"_id": "d2", "text": "Lava cools into basalt."},
        )
    if queries is None:
        queries = lines(
            {"_id": "q1", "text": "What carves valleys?"},
            {"_id": "q2", "text": "What does lava become?"},
            {"_id": "q3", "text": "Where is basalt found?"},
        )
    if qrels is None:
        qrels = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq2\td1\t0\n"
    (root / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (root / "queries.jsonl").write_text(queries, encoding="utf-8")
    (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root


def keep(record: dict[str, Any], number: int) -> tuple[int, dict[str, Any]]:
    return number, record


# -- JSON lines --------------------------------------------------------------------------------


def test_each_non_blank_line_is_read_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n', encoding="utf-8")
    assert json_records(path, keep, file="f", record="r") == [(1, {"a": 1}), (4, {"a": 2})]


def test_a_byte_order_mark_and_crlf_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\r\n')
    assert json_records(str(path), keep, file="f", record="r") == [(1, {"a": 1}), (2, {"a": 2})]


def test_unicode_line_separators_inside_strings_do_not_end_a_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    # JSON writes U+2028, U+2029 and U+0085 raw inside strings; only LF ends a line.
    path.write_text('{"text": "one\u2028two\u2029three\x85four"}\n{"text": "next"}\n', encoding="utf-8")
    records = json_records(path, keep, file="f", record="r")
    assert records == [(1, {"text": "one\u2028two\u2029three\x85four"}), (2, {"text": "next"})]


def test_an_empty_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    assert json_records(path, keep, file="f", record="r") == []


@pytest.mark.parametrize("bad", ['{"a": 1', "not json", "[1, 2]", "null", "42", '"a string"', "NaN"])
def test_a_line_that_is_not_a_json_object_is_named_in_the_error(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n\n' + bad + '\n{"a": 2}\n', encoding="utf-8")
    with pytest.raises(EvalDataError) as caught:
        json_records(path, keep, file="records file", record="test record")
    assert str(caught.value).startswith(f"{path}:3: not a test record (")


@pytest.mark.parametrize(
    "error", [KeyError("id"), TypeError("wrong type"), ValueError("bad value"), AttributeError("x")]
)
def test_a_record_the_reader_refuses_is_an_error_naming_its_line(tmp_path: Path, error: Exception) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")

    def refuse_second(record: dict[str, Any], number: int) -> int:
        if number == 2:
            raise error
        return number

    with pytest.raises(EvalDataError, match=r":2: not a test record \(") as caught:
        json_records(path, refuse_second, file="f", record="test record")
    assert caught.value.__cause__ is error


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "missing.jsonl"
    with pytest.raises(EvalDataError, match=rf"^cannot read questions file {path}: "):
        json_records(path, keep, file="questions file", record="r")


def test_a_folder_or_bytes_that_are_not_utf8_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match=r"^cannot read f "):
        json_records(tmp_path, keep, file="f", record="r")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(EvalDataError, match=r"^cannot read f "):
        json_records(path, keep, file="f", record="r")


def test_eval_data_errors_are_errors_of_the_package(tmp_path: Path) -> None:
    with pytest.raises(QAError):
        json_records(tmp_path / "missing.jsonl", keep, file="f", record="r")


# -- question files ----------------------------------------------------------------------------


def test_questions_are_read_with_their_relevant_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        lines(
            {"id": "a", "question": "Who bakes bread?", "relevant": ["bakery.md#2", "bakery.md#3"]},
            {"id": 7, "question": "What flows?", "relevant": []},
        ),
        encoding="utf-8",
    )
    assert read_questions(path) == [
        Question("a", "Who bakes bread?", {"bakery.md#2": 1.0, "bakery.md#3": 1.0}),
        Question("7", "What flows?", {}),
    ]


def test_a_question_without_an_id_is_numbered_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('\n{"question": "First?"}\n\n{"question": "Second?", "relevant": ["a.txt#1"]}\n')
    questions = read_questions(path)
    assert [q.id for q in questions] == ["2", "4"]
    # No "relevant": nothing answers it.
    assert questions[0].relevant == {} and questions[1].relevant == {"a.txt#1": 1.0}


def test_relevant_keys_that_are_not_a_list_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(lines({"question": "ok?"}, {"question": "bad?", "relevant": "a.txt#1"}), encoding="utf-8")
    with pytest.raises(EvalDataError, match=r"q\.jsonl:2: not a question record \(`relevant` must be a list\)"):
        read_questions(path)


def test_a_record_without_a_question_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(lines({"id": "1", "relevant": []}), encoding="utf-8")
    with pytest.raises(EvalDataError, match=r"q\.jsonl:1: not a question record"):
        read_questions(path)


def test_a_file_without_questions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(EvalDataError, match="holds no questions"):
        read_questions(path)


def test_a_missing_questions_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="cannot read questions file"):
        read_questions(tmp_path / "nope.jsonl")


def test_a_question_that_is_not_text_is_a_malformed_line(tmp_path: Path) -> None:
    # null must not become the question "None" (nor a list or an object its repr).
    for value in (None, ["a", "b"], {"text": "x"}):
        path = tmp_path / "q.jsonl"
        path.write_text(lines({"id": "1", "question": value}), encoding="utf-8")
        with pytest.raises(EvalDataError, match=r"q\.jsonl:1: not a question record"):
            read_questions(path)


# -- BEIR folders ------------------------------------------------------------------------------


def test_a_beir_folder_gives_its_documents_and_judged_queries(tmp_path: Path) -> None:
    documents, questions = read_beir(beir(tmp_path / "b"))
    assert [(d.source, d.title, d.text) for d in documents] == [
        ("d1", "Glaciers", "Glaciers carve valleys."),
        ("d2", "", "Lava cools into basalt."),
    ]
    # q3 has no judgement; a grade of 0 is judged but not relevant.
    assert questions == [
        Question("q1", "What carves valleys?", {"d1": 2.0}),
        Question("q2", "What does lava become?", {"d2": 1.0}),
    ]


def test_a_query_judged_only_not_relevant_is_kept_with_nothing_relevant(tmp_path: Path) -> None:
    _, questions = read_beir(beir(tmp_path / "b", qrels="q1\td1\t1\nq3\td2\t0\nq3\td1\t-1\n"))
    assert questions == [
        Question("q1", "What carves valleys?", {"d1": 1.0}),
        Question("q3", "Where is basalt found?", {}),
    ]


def test_the_split_chooses_the_judgements_file(tmp_path: Path) -> None:
    root = beir(tmp_path / "b", qrels="q2\td2\t3\n", split="dev")
    _, questions = read_beir(root, split="dev")
    assert questions == [Question("q2", "What does lava become?", {"d2": 3.0})]
    with pytest.raises(EvalDataError, match=r"test\.tsv not found"):
        read_beir(root)


def test_judgements_without_a_header_keep_their_first_row(tmp_path: Path) -> None:
    _, questions = read_beir(beir(tmp_path / "b", qrels="q1\td1\t1\r\nq1\td2\t1\r\n"))
    assert questions == [Question("q1", "What carves valleys?", {"d1": 1.0, "d2": 1.0})]


def test_documents_without_text_are_left_out(tmp_path: Path) -> None:
    corpus = lines({"_id": "d1", "text": "Glaciers carve valleys."}, {"_id": "d2", "text": "  "}, {"_id": "d3"})
    documents, _ = read_beir(beir(tmp_path / "b", corpus=corpus))
    assert [d.source for d in documents] == ["d1"]


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_a_beir_folder_missing_a_file_is_refused_naming_it(tmp_path: Path, missing: str) -> None:
    root = beir(tmp_path / "b")
    (root / missing).unlink()
    with pytest.raises(EvalDataError, match=re.escape(f"{root / missing} not found: a BEIR folder")):
        read_beir(root)


def test_a_corpus_line_without_an_id_is_named(tmp_path: Path) -> None:
    corpus = lines({"_id": "d1", "text": "Glaciers carve valleys."}) + "\n" + lines({"text": "No id."})
    root = beir(tmp_path / "b", corpus=corpus)
    with pytest.raises(EvalDataError, match=r"corpus\.jsonl:3: not a BEIR document \(with an _id\)"):
        read_beir(root)


def test_a_query_line_without_text_is_named(tmp_path: Path) -> None:
    root = beir(tmp_path / "b", queries=lines({"_id": "q1", "text": "What carves valleys?"}, {"_id": "q2"}))
    with pytest.raises(EvalDataError, match=r"queries\.jsonl:2: not a BEIR query"):
        read_beir(root)


def test_a_query_line_that_is_not_json_is_named(tmp_path: Path) -> None:
    root = beir(tmp_path / "b", queries='{"_id": "q1", "text": "ok"}\n{"_id": "q2", "text": \n')
    with pytest.raises(EvalDataError, match=r"queries\.jsonl:2: not a BEIR query"):
        read_beir(root)


@pytest.mark.parametrize("row", ["q1\td1", "q1", "q1\td1\thigh"])
def test_a_judgement_row_that_is_not_three_fields_with_a_score_is_named(tmp_path: Path, row: str) -> None:
    root = beir(tmp_path / "b", qrels=f"query-id\tcorpus-id\tscore\nq1\td1\t1\n{row}\n")
    with pytest.raises(EvalDataError, match=r"test\.tsv:3: expected query-id, corpus-id, score$"):
        read_beir(root)


def test_judgements_of_unknown_queries_only_are_refused(tmp_path: Path) -> None:
    root = beir(tmp_path / "b", qrels="query-id\tcorpus-id\tscore\nq9\td1\t1\n")
    with pytest.raises(EvalDataError, match=r"judges no query found in queries\.jsonl"):
        read_beir(root)
