"""Evaluation data: questions with the paragraphs that answer them, from JSON lines or a BEIR data set."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..errors import EvalDataError
from ..text.passages import Document, make_document

T = TypeVar("T")


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


def json_records(path: str | Path, read: Callable[[dict[str, Any], int], T], *, file: str, record: str) -> list[T]:
    """Every non-blank line of the JSON-lines file ``path``, turned by ``read(object, line number)`` into a result.

    Raises:
        EvalDataError: The file cannot be read (``cannot read {file} PATH``), or a line is not a JSON object
            that ``read`` takes (``PATH:N: not a {record} (why)``).

    """
    where = Path(path)
    try:
        # Lines end at LF (CRLF too, JSON takes the CR as space): never at the other characters
        # ``str.splitlines`` breaks at, such as U+2028, which JSON writes raw inside strings.
        lines = where.read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {file} {where}: {exc}") from exc
    results: list[T] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            if not isinstance(value, dict):
                raise TypeError("a line holds one JSON object")
            results.append(read(value, number))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            # json.JSONDecodeError is a ValueError too; nesting past Python's depth is a RecursionError.
            raise EvalDataError(f"{where}:{number}: not a {record} ({exc})") from exc
    return results


def _text(value: object, what: str) -> str:
    """``value`` if it is text; else the line is malformed."""
    if not isinstance(value, str):
        raise TypeError(f"`{what}` must be text, not {type(value).__name__}")
    return value


def _id(value: object, what: str) -> str:
    """An id written as text or as a whole number; else the line is malformed."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"`{what}` must be text or a whole number, not {type(value).__name__}")
    return str(value)


def _question(record: dict[str, Any], number: int) -> Question:
    """A question record: ``{"id", "question", "relevant": ["FILE#N", ...]}``."""
    relevant = record.get("relevant", [])
    if not isinstance(relevant, list):
        raise TypeError("`relevant` must be a list")
    judged = {_text(r, "relevant"): 1.0 for r in relevant}
    return Question(_id(record.get("id", number), "id"), _text(record["question"], "question"), judged)


def read_questions(path: str | Path) -> list[Question]:
    """Read a JSON-lines file of ``{"id", "question", "relevant": ["FILE#N", ...]}``.

    Raises:
        EvalDataError: The file is missing or a line is malformed.

    """
    questions = json_records(path, _question, file="questions file", record="question record")
    if not questions:
        raise EvalDataError(f"{path} holds no questions")
    return questions


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
    documents = json_records(
        root / "corpus.jsonl",
        lambda r, _: make_document(
            _id(r["_id"], "_id"), _text(r.get("text", ""), "text"), title=_text(r.get("title") or "", "title")
        ),
        file="BEIR corpus",
        record="BEIR document (with an _id)",
    )
    queries = dict(
        json_records(
            root / "queries.jsonl",
            lambda r, _: (_id(r["_id"], "_id"), _text(r["text"], "text")),
            file="BEIR queries",
            record="BEIR query",
        )
    )
    judged: dict[str, dict[str, float]] = {}
    try:
        judgements = qrels_path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read BEIR judgements {qrels_path}: {exc}") from exc
    rows = csv.reader(io.StringIO(judgements), delimiter="\t")
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
            continue
        try:
            judged.setdefault(row[0].strip(), {})[row[1].strip()] = float(row[2])
        except (IndexError, ValueError) as exc:
            raise EvalDataError(f"{qrels_path}:{number}: expected query-id, corpus-id, score") from exc
    questions = [
        Question(qid, queries[qid], {d: g for d, g in grades.items() if g > 0})
        for qid, grades in judged.items()
        if qid in queries
    ]
    if not questions:
        raise EvalDataError(f"{qrels_path} judges no query found in queries.jsonl")
    return [d for d in documents if d.text.strip()], questions
