"""Metrics, question files and the BEIR reader."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from fakes import FakeEmbedder

import qa
from qa.eval.metrics import QuestionResult, evaluate, metrics
from qa.eval.questions import Question, read_beir, read_questions
from qa.index import build_from_documents

BEIR = ROOT / "tests" / "data" / "beir_tiny"


def result(ranked: list[str], found: bool = True) -> QuestionResult:
    return QuestionResult("q", tuple(ranked), found, 0.5, 0.001)


def test_metrics_by_hand() -> None:
    questions = [
        Question("a", "?", {"x": 1.0}),
        Question("b", "?", {"y": 1.0}),
        Question("c", "?", {}),
    ]
    results = [result(["x", "z"]), result(["z", "w", "y"], found=False), result(["x"], found=False)]
    m = metrics(questions, results)
    assert m["recall@1"] == 0.5
    assert m["recall@5"] == 1.0
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / 2)
    assert m["abstention_accuracy"] == 1.0
    assert m["false_abstain_rate"] == 0.5


def test_graded_ndcg_prefers_the_better_document_first() -> None:
    question = [Question("a", "?", {"best": 2.0, "good": 1.0})]
    ideal = metrics(question, [result(["best", "good"])])["ndcg@10"]
    swapped = metrics(question, [result(["good", "best"])])["ndcg@10"]
    assert ideal == pytest.approx(1.0) and swapped is not None and swapped < 1.0


def test_read_questions_rejects_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "question": "ok?", "relevant": []}\n{"id": "2"}\n')
    with pytest.raises(qa.EvalDataError, match=":2: not a question record"):
        read_questions(path)


def test_read_beir_layout_with_crlf_header_and_grades() -> None:
    documents, questions = read_beir(BEIR)
    assert len(documents) == 12 and documents[0].title == "Photosynthesis"
    assert [q.id for q in questions] == ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8"]
    assert questions[1].relevant == {"d2": 2.0}
    assert questions[7].relevant == {"d8": 1.0}, "grade-0 judgements are not relevant"


def test_read_beir_missing_files(tmp_path: Path) -> None:
    with pytest.raises(qa.EvalDataError, match=r"corpus\.jsonl not found"):
        read_beir(tmp_path)


def test_beir_eval_ranks_document_ids(tmp_path: Path) -> None:
    documents, questions = read_beir(BEIR)
    index = build_from_documents(documents, tmp_path / "i", embedder=FakeEmbedder())
    report = evaluate(index, questions, by_document=True)
    assert all(set(q.ranked) <= {d.source for d in documents} for q in report.questions)
    assert all(len(q.ranked) == 12 for q in report.questions)
    assert report.metrics["recall@20"] == 1.0
    assert report.metrics["mrr@10"] is not None and report.metrics["mrr@10"] > 0.5


@pytest.mark.model
def test_cli_eval_beir_json(tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    folder.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (folder / name).write_bytes((BEIR / name).read_bytes())
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_bytes((BEIR / "qrels" / "test.tsv").read_bytes())
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "qa", "eval", "--beir", str(folder), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["metrics"]["ndcg@10"] > 0.8
    assert {q["id"] for q in data["questions"]} == {f"q{i}" for i in range(1, 9)}
    assert data["questions"][0]["ranked"][0] in {"d1", "d2"}


def test_lines_nested_too_deep_and_judgements_that_are_not_text_are_data_errors(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"question": ' + "[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(qa.EvalDataError, match=r"deep.jsonl:1: not a question record"):
        read_questions(deep)
    folder = tmp_path / "beir"
    shutil.copytree(BEIR, folder)
    (folder / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\xff\t1\n")
    with pytest.raises(qa.EvalDataError, match="cannot read BEIR judgements"):
        read_beir(folder)
