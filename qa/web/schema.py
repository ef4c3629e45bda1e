"""The JSON API's request and response models (pydantic), made from what the Python API returns.

A quote's and an answer's models are built from the keys and types of
:meth:`qa.answer.quotes.Quote.to_dict` and :meth:`qa.answer.compose.Answer.to_dict` (the
shape ``qa ask --json`` prints), listed once here as :data:`QUOTE_FIELDS` and
:data:`ANSWER_FIELDS`; ``extra="forbid"`` and the tests on real answers keep the two in
step. Documents and the live status are the frozen dataclasses themselves
(:class:`qa.store.catalog.DocumentInfo`, :class:`qa.live.LiveStatus`), which pydantic reads
field by field, as is a search hit's :class:`qa.text.passages.Passage`: they cannot drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..config import MAX_ANSWER_K
from ..live import LiveStatus
from ..search.hits import Hit
from ..store.catalog import DocumentInfo
from ..text.passages import Passage

#: The keys of ``Quote.to_dict()`` and their JSON types, in its order.
QUOTE_FIELDS: dict[str, Any] = {
    "source": str,
    "paragraph": int,
    "start_line": int,
    "end_line": int,
    "start_char": int,
    "end_char": int,
    "text": str,
    "page": int | None,
    "end_page": int | None,
    "section": str | None,
    "score": float,
    "citation": str,
    "title": str,
    "passage_sha256": str,
    "highlights": list[tuple[int, int]],
    "also_in": list[str],
}

_STRICT = ConfigDict(extra="forbid")
#: Requests: no unknown keys, and no text read as a number or a number as text.
_REQUEST = ConfigDict(extra="forbid", strict=True)

#: One quote of an answer, as ``Quote.to_dict()`` gives it.
QuoteOut: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "QuoteOut", __config__=_STRICT, **{name: (kind, ...) for name, kind in QUOTE_FIELDS.items()}
)

#: The keys of ``Answer.to_dict()`` and their JSON types, in its order.
ANSWER_FIELDS: dict[str, Any] = {
    "question": str,
    "searched": str,
    "found": bool,
    "confident": bool,
    "confidence": float | None,
    "message": str,
    "quotes": list[QuoteOut],  # type: ignore[valid-type]
    "more": list[QuoteOut],  # type: ignore[valid-type]
    "warnings": list[str],
}

#: An answer, exactly as ``Answer.to_dict()`` (and ``qa ask --json``) gives it.
AnswerOut: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "AnswerOut", __config__=_STRICT, **{name: (kind, ...) for name, kind in ANSWER_FIELDS.items()}
)


class AskIn(BaseModel):
    """A question for ``POST /api/v1/answer``."""

    model_config = _REQUEST

    question: str = Field(description="The question (1 to the index's max_question_chars characters).")
    k: int | None = Field(None, description=f"Passages ranked, quotes plus more (1 to {MAX_ANSWER_K}).")
    sources: list[str] | None = Field(None, max_length=1000, description="Files or folders to search in.")
    history: list[str] = Field(
        default_factory=list, max_length=20, description="Earlier questions, oldest first (follow-ups)."
    )


class SearchIn(BaseModel):
    """A question for ``POST /api/v1/search``."""

    model_config = _REQUEST

    question: str
    k: int = Field(5, description=f"Passages ranked (1 to {MAX_ANSWER_K}).")
    sources: list[str] | None = Field(None, max_length=1000)


class HitOut(BaseModel):
    """One ranked passage: its scores and citation, and the paragraph itself (the :class:`Passage` dataclass)."""

    model_config = _STRICT

    rank: int
    score: float
    dense_score: float | None
    lexical_score: float | None
    citation: str
    also_in: list[str]
    passage: Passage

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        """The model of a :class:`~qa.search.hits.Hit`."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return cls(
            rank=hit.rank,
            score=round(hit.score, 6),
            dense_score=rounded(hit.dense_score),
            lexical_score=rounded(hit.lexical_score),
            citation=hit.citation,
            also_in=list(hit.also_in),
            passage=hit.passage,
        )


class SearchOut(BaseModel):
    """The ranked passages of a search."""

    question: str
    hits: list[HitOut]


class DocumentsOut(BaseModel):
    """Every file the index records: indexed ones and skipped ones with their reason."""

    indexed: int
    skipped: int
    documents: list[DocumentInfo]


class StatusOut(BaseModel):
    """What the live index is doing, and the line the chat shows for it."""

    status: LiveStatus
    line: str


class HealthOut(BaseModel):
    """Whether the server answers: the model warm and the index open."""

    ready: bool


class ErrorOut(BaseModel):
    """What went wrong, in words (never a traceback)."""

    error: str
