"""Evaluation data: questions with the paragraphs that answer them, from JSON lines or a BEIR data set."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EvalDataError
from ..text.passages import Document, make_document


@dataclass(frozen=True)
class Question:
    """One evaluation question and the keys that answer it (empty: nothing does).

    Attributes:
        id: The question's id.
        text: The question.
        relevant: Relevant keys (``FILE#PARAGRAPH`` or BEIR corpus ids) with their grade.

    """

    id: str
    text: str
    relevant: dict[str, float] = field(default_factory=dict)


def read_questions(path: str | Path) -> list[Question]:
    """Read a JSON-lines file of ``{"id", "question", "relevant": ["FILE#N", ...]}``.

    Raises:
        EvalDataError: The file is missing or a line is malformed.

    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read questions file {file}: {exc}") from exc
    questions: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            relevant = record.get("relevant", [])
            if not isinstance(relevant, list):
                raise TypeError("`relevant` must be a list")
            questions.append(
                Question(str(record.get("id", number)), str(record["question"]), {str(r): 1.0 for r in relevant})
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise EvalDataError(f"{file}:{number}: not a question record ({exc})") from exc
    if not questions:
        raise EvalDataError(f"{file} holds no questions")
    return questions


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file into a list of objects."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from exc
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path}:{number}: invalid JSON ({exc})") from exc
    return records


def read_beir(folder: str | Path, split: str = "test") -> tuple[list[Document], list[Question]]:
    """Read a data set in BEIR layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

    Only queries that have judgements in the split are returned.

    Raises:
        EvalDataError: A file is missing or malformed.

    """
    root = Path(folder)
    qrels_path = root / "qrels" / f"{split}.tsv"
    for path in (root / "corpus.jsonl", root / "queries.jsonl", qrels_path):
        if not path.is_file():
            raise EvalDataError(f"{path} not found: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/")
    documents = []
    for record in _read_jsonl(root / "corpus.jsonl"):
        try:
            documents.append(
                make_document(str(record["_id"]), str(record.get("text", "")), title=str(record.get("title") or ""))
            )
        except KeyError as exc:
            raise EvalDataError(f"{root / 'corpus.jsonl'}: a document has no _id") from exc
    queries = {str(r["_id"]): str(r["text"]) for r in _read_jsonl(root / "queries.jsonl") if "_id" in r}
    judged: dict[str, dict[str, float]] = {}
    rows = csv.reader(io.StringIO(qrels_path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")), delimiter="\t")
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
            continue
        if len(row) < 3:
            raise EvalDataError(f"{qrels_path}:{number}: expected query-id, corpus-id, score")
        judged.setdefault(row[0].strip(), {})[row[1].strip()] = float(row[2])
    questions = [
        Question(qid, queries[qid], {d: g for d, g in grades.items() if g > 0})
        for qid, grades in judged.items()
        if qid in queries
    ]
    if not questions:
        raise EvalDataError(f"{qrels_path} judges no query found in queries.jsonl")
    return [d for d in documents if d.text.strip()], questions
