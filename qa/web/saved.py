"""A chat turn as JSON text and back, so that conversations outlive the page and the server.

Everything the page shows of a turn is kept: the question, what was searched, the answer
with every quote (its passage, citation, highlights and the hash of its file when it was
checked) and the hashes of the cited files the index held then, which the "changed since
this answer" notices compare with the index of the day the conversation is reopened.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from ..answer.compose import Answer
from ..answer.quotes import Quote
from ..text.passages import Passage
from .conversation import Turn

#: Version of the JSON layout of a turn; a turn of another version is not read back.
LAYOUT = 1


def turn_to_json(turn: Turn) -> str:
    """``turn`` as JSON text (compact, UTF-8 kept)."""
    data = asdict(turn)
    data["layout"] = LAYOUT
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def turn_from_json(text: str) -> Turn:
    """The turn that :func:`turn_to_json` wrote.

    Raises:
        ValueError: ``text`` is not a turn of this layout (damaged, or written by another version).

    """
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or type(data.get("layout")) is not int or data["layout"] != LAYOUT:
            raise ValueError("not a turn of this version")
        answer = data["answer"]
        return Turn(
            id=_whole(data["id"]),
            question=_text(data["question"]),
            searched=_text(data["searched"]),
            sources=tuple(_text(s) for s in _items(data["sources"])),
            literal=_flag(data["literal"]),
            answer=None if answer is None else _answer(answer),
            error=_text(data["error"]),
            asked=float(data["asked"]),
            indexed=tuple((_text(s), _text(h)) for s, h in map(_pair, _items(data["indexed"]))),
        )
    except (KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValueError(f"not a saved turn ({exc!r})") from exc


def _answer(data: dict[str, Any]) -> Answer:
    """An :class:`Answer` from its saved fields."""
    return Answer(
        question=_text(data["question"]),
        found=_flag(data["found"]),
        quotes=tuple(_quote(q) for q in _items(data["quotes"])),
        message=_text(data["message"]),
        warnings=tuple(_text(w) for w in _items(data["warnings"])),
        best_score=_number(data["best_score"]),
        confident=_flag(data["confident"]),
        more=tuple(_quote(q) for q in _items(data["more"])),
        searched=_text(data["searched"]),
        confidence=_number(data["confidence"]),
    )


def _quote(data: dict[str, Any]) -> Quote:
    """A :class:`Quote` from its saved fields."""
    return Quote(
        passage=_passage(data["passage"]),
        score=float(data["score"]),
        rank=_whole(data["rank"]),
        citation=_text(data["citation"]),
        dense_score=_number(data["dense_score"]),
        lexical_score=_number(data["lexical_score"]),
        also_in=tuple(_text(c) for c in _items(data["also_in"])),
        duplicates=tuple(_passage(p) for p in _items(data["duplicates"])),
        passage_id=_whole(data["passage_id"]),
        duplicate_ids=tuple(_whole(i) for i in _items(data["duplicate_ids"])),
        highlights=tuple((_whole(s), _whole(e)) for s, e in map(_pair, _items(data["highlights"]))),
        relocated=_flag(data["relocated"]),
        title=_text(data["title"]),
        file_sha256=_text(data["file_sha256"]),
    )


def _passage(data: dict[str, Any]) -> Passage:
    """A :class:`Passage` from its saved fields."""
    optional = {name: data[name] for name in ("page", "end_page", "page_paragraph") if data[name] is not None}
    return Passage(
        source=_text(data["source"]),
        paragraph=_whole(data["paragraph"]),
        start_line=_whole(data["start_line"]),
        end_line=_whole(data["end_line"]),
        start_char=_whole(data["start_char"]),
        end_char=_whole(data["end_char"]),
        text=_text(data["text"]),
        sha256=_text(data["sha256"]),
        page=_whole(optional["page"]) if "page" in optional else None,
        end_page=_whole(optional["end_page"]) if "end_page" in optional else None,
        page_paragraph=_whole(optional["page_paragraph"]) if "page_paragraph" in optional else None,
        section=None if data["section"] is None else _text(data["section"]),
    )


def _text(value: object) -> str:
    """``value`` if it is text."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _flag(value: object) -> bool:
    """``value`` if it is ``true`` or ``false``."""
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def _items(value: object) -> list[Any]:
    """``value`` if it is a list."""
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _pair(value: object) -> tuple[Any, Any]:
    """``value`` if it is a list of two."""
    items = _items(value)
    if len(items) != 2:
        raise TypeError(f"expected a pair, got {len(items)} values")
    return items[0], items[1]


def _whole(value: object) -> int:
    """``value`` if it is a whole number."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected a whole number, got {type(value).__name__}")
    return value


def _number(value: object) -> float | None:
    """``value`` as a float, or ``None``."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)
