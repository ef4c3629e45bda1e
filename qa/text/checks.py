"""Input that must be text: a string of real characters (no lone surrogates), else a :class:`QueryError`."""

from __future__ import annotations

from ..errors import QueryError


def check_text(text: object, what: str = "the question") -> str:
    """``text`` if it is a string of real characters, else :class:`QueryError` naming ``what``.

    Lone surrogates (broken Unicode from a bad decoder or a hostile client) are refused:
    no tokenizer or database takes them.
    """
    if not isinstance(text, str):
        raise QueryError(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryError(f"{what} holds characters that are not text (broken Unicode)") from exc
    return text
