"""A question as the search takes it: checked once, at the edge, with what to search and how.

Every way in (the Python API, the CLI, the chat, HTTP) builds a :class:`Request` with
:meth:`Request.checked`; everything below trusts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral

from ..config import RETRIEVERS, RetrieverName, Settings
from ..errors import QueryError, shown
from ..text.checks import check_text


def check_question(question: object, limit: int) -> str:
    """The stripped question, or :class:`QueryError` if it is not text, empty or over ``limit`` characters."""
    stripped = check_text(question).strip()
    if not stripped:
        raise QueryError("the question is empty: type a question about the articles")
    if len(stripped) > limit:
        raise QueryError(f"the question is {len(stripped)} characters long; the limit is {limit}")
    return stripped


def check_k(k: object) -> int:
    """``k`` as an ``int`` if it is a whole number of at least 1 (numpy's too), else :class:`QueryError`."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise QueryError(f"k must be a whole number of at least 1, got {shown(k)}")
    return int(k)


def check_mode(retriever: object, default: RetrieverName) -> RetrieverName:
    """The retriever to use: ``retriever`` if given (checked), else ``default``."""
    if retriever is None:
        return default
    for name in RETRIEVERS:
        if isinstance(retriever, str) and retriever == name:
            return name
    raise QueryError(f"unknown retriever {shown(retriever)}: choose one of {', '.join(RETRIEVERS)}")


def check_history(history: object) -> list[str]:
    """Earlier questions as a list of text, or :class:`QueryError`."""
    if isinstance(history, str | bytes) or not isinstance(history, Iterable):
        raise QueryError("history must be a list of earlier questions")
    earlier = list(history)
    for question in earlier:
        if not isinstance(question, str):
            raise QueryError(f"history must be a list of earlier questions, not of {type(question).__name__}")
        check_text(question, "an earlier question")
    return earlier


@dataclass(frozen=True)
class Request:
    """One checked question.

    Attributes:
        question: The question as asked, stripped.
        searched: What is searched: the question, or a follow-up with the previous subject.
        k: Hits wanted.
        mode: ``dense``, ``lexical`` or ``hybrid``.
        sources: Files and folders to search in (``None``: all), as given: the snapshot checks them
            against what it holds (:meth:`qa.store.filters.FileList.names`).
        history: Earlier questions of the conversation, oldest first (resolved by the retriever,
            which knows the corpus: :meth:`qa.search.retrieval.Retriever.resolve`).
        focus: Files whose passages rank first (the subject a follow-up moved to or stayed on).
        ordered_by: What orders the passages when it is not ``searched`` (a follow-up that stays
            on its file is ranked there by its own words; ``searched`` judges whether it answers).

    """

    question: str
    searched: str
    k: int
    mode: RetrieverName
    sources: object = None
    history: tuple[str, ...] = ()
    focus: frozenset[str] = frozenset()
    ordered_by: str = ""

    @classmethod
    def checked(
        cls,
        question: object,
        k: object,
        *,
        settings: Settings,
        retriever: object = None,
        sources: object = None,
        history: object = (),
    ) -> Request:
        """Check every part of a question; ``searched`` is the question until the retriever resolves ``history``.

        Raises:
            QueryError: The question, ``k``, ``retriever`` or ``history`` is unusable (``sources``
                are checked by the snapshot that holds them).

        """
        text = check_question(question, settings.max_question_chars)
        mode = check_mode(retriever, settings.retriever)
        earlier = check_history(history)
        size = check_k(k)
        # A generator would be spent by the first look: the search reads a list.
        chosen = list(sources) if isinstance(sources, Iterable) and not isinstance(sources, str | bytes) else sources
        return cls(text, text, size, mode, chosen, tuple(q for q in earlier if q.strip()))
