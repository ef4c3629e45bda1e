"""A conversation in the web chat, without the web: turns, freshness, sources, copy and export.

Nothing here imports gradio; :mod:`qa.app` wires these functions to the page and
:mod:`qa.render` turns them into HTML.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .answers import Answer, Quote, SourceChecker, article_title
from .documents import decode_text
from .errors import CorpusError, QAError, QueryError
from .index import Index

#: Turns of a conversation kept (older ones drop off the top).
MAX_TURNS = 100


@dataclass(frozen=True)
class Turn:
    """One question and its answer in a conversation.

    Attributes:
        question: The question as typed.
        searched: What was searched (the question, or a follow-up expanded with the
            previous turn's subject); the person can edit and re-run it.
        sources: Files or folders the question was limited to (empty: all).
        answer: The answer; ``None`` while it is being searched.
        error: A message for a question that could not be answered.
        asked: When it was asked (seconds since the epoch).

    """

    question: str
    searched: str = ""
    sources: tuple[str, ...] = ()
    answer: Answer | None = None
    error: str = ""
    asked: float = 0.0

    @property
    def pending(self) -> bool:
        """Whether the answer is still being searched."""
        return self.answer is None and not self.error

    def quotes(self) -> tuple[Quote, ...]:
        """Every passage of the answer: the quotes, then the further passages."""
        return () if self.answer is None else (*self.answer.quotes, *self.answer.more)

    def quote(self, key: str) -> Quote | None:
        """The passage with ``key`` (``q<rank>`` for a quote, ``m<rank>`` for a further passage), or ``None``."""
        if self.answer is None or len(key) < 2 or key[0] not in "qm" or not key[1:].isdigit():
            return None
        group = self.answer.quotes if key[0] == "q" else self.answer.more
        return next((q for q in group if q.rank == int(key[1:])), None)


def ask(turns: Sequence[Turn], question: str, sources: Sequence[str] = (), *, literal: bool = False) -> list[Turn]:
    """Add a pending turn for ``question`` (``literal``: search it exactly as written).

    Raises:
        QueryError: The question is empty.

    """
    question = question.strip() if isinstance(question, str) else ""
    if not question:
        raise QueryError("the question is empty: type a question about the articles")
    turn = Turn(question, question if literal else "", tuple(sources), asked=time.time())
    return [*turns, turn][-MAX_TURNS:]


def history(turns: Sequence[Turn]) -> list[str]:
    """What earlier turns searched, oldest first: the context of a follow-up."""
    return [t.searched or t.question for t in turns if t.answer is not None]


def answer_pending(turns: Sequence[Turn], index: Index) -> list[Turn]:
    """Answer the last turn if it is pending; earlier turns are its conversation."""
    if not turns or not turns[-1].pending:
        return list(turns)
    *earlier, turn = turns
    try:
        if turn.searched:
            # An edited search runs as written, with no follow-up expansion.
            answer = index.answer(turn.searched, sources=turn.sources or None)
        else:
            answer = index.answer(turn.question, sources=turn.sources or None, history=history(earlier))
        done = replace(turn, answer=answer, searched=answer.searched or turn.question)
    except QAError as exc:
        done = replace(turn, error=str(exc), searched=turn.searched or turn.question)
    return [*earlier, done]


def stale_quotes(turns: Sequence[Turn], index: Index) -> frozenset[tuple[int, str]]:
    """``(turn, quote key)`` of every quote whose file changed or went since it was answered.

    A file counts as changed when the index now holds other bytes for it than the ones
    the quote was checked against (the index follows the files within seconds).
    """
    files = index.manifest.files
    stale = set()
    for number, turn in enumerate(turns):
        if turn.answer is None:
            continue
        for group, prefix in ((turn.answer.quotes, "q"), (turn.answer.more, "m")):
            for quote in group:
                if files.get(quote.source) != quote.file_sha256:
                    stale.add((number, f"{prefix}{quote.rank}"))
    return frozenset(stale)


@dataclass(frozen=True)
class SourceView:
    """An indexed article as the source pane shows it, with the quoted paragraph located.

    Attributes:
        source: File path relative to the corpus folder.
        title: The article's title.
        text: The file's current text.
        start_char: Start of the quoted paragraph in ``text`` (``-1``: not in it any more).
        end_char: End of the quoted paragraph.
        highlights: Answering sentences, as absolute ranges in ``text``.
        changed: The file changed since the answer was given.
        citation: The citation as the answer gave it.

    """

    source: str
    title: str
    text: str
    start_char: int
    end_char: int
    highlights: tuple[tuple[int, int], ...]
    changed: bool
    citation: str


def read_indexed(index: Index, source: str) -> tuple[str, str]:
    """The current ``(text, sha256 of bytes)`` of an indexed file, and only of one.

    Raises:
        CorpusError: ``source`` is not an indexed file, lies outside the corpus folder
            (a link pointing out), or cannot be read now.

    """
    if source not in index.manifest.files:
        raise CorpusError(f"{source!r} is not an indexed file")
    root = index.corpus.resolve()
    path = (root / source).resolve()
    if not path.is_relative_to(root):
        raise CorpusError(f"{source!r} points outside the corpus folder; it is not shown")
    try:
        raw = path.read_bytes()
        return decode_text(raw), hashlib.sha256(raw).hexdigest()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorpusError(f"cannot read {source} now: {exc}") from exc


def source_view(index: Index, quote: Quote) -> SourceView:
    """The article a quote comes from, as it is now, with the quote located in it.

    Raises:
        CorpusError: The file is no longer indexed or readable.

    """
    text, digest = read_indexed(index, quote.source)
    changed = digest != quote.file_sha256
    start, end = quote.start_char, quote.end_char
    highlights = tuple((start + s, start + e) for s, e in quote.highlights)
    if changed or text[start:end] != quote.text:
        # The paragraph may have moved: find it again by its text, or say it is gone.
        checker = SourceChecker(Path(index.corpus), {})
        now = checker.current(quote.passage)
        if now is None:
            start, end, highlights = -1, -1, ()
        else:
            shift = now.start_char - start
            start, end = now.start_char, now.end_char
            highlights = tuple((s + shift, e + shift) for s, e in highlights)
    return SourceView(
        quote.source, article_title(quote.source, text), text, start, end, highlights, changed, quote.citation
    )


def quote_text(quote: Quote) -> str:
    """What "copy" puts on the clipboard: the verbatim quote and its citation, as plain text."""
    title = f"{quote.title} — " if quote.title else ""
    return f"“{quote.text}”\n— {title}{quote.citation}"


def _markdown_quote(quote: Quote) -> list[str]:
    """A quote as a Markdown block quote (verbatim lines) with its citation."""
    title = f"{quote.title} — " if quote.title else ""
    lines = [f"> {line}" if line else ">" for line in quote.text.split("\n")]
    return [*lines, "", f"— [{quote.rank}] {title}`{quote.citation}`", ""]


def export_markdown(turns: Sequence[Turn]) -> str:
    """The conversation as Markdown: every question, quote and citation."""
    out = ["# Conversation with the articles", ""]
    for turn in turns:
        out += [f"## {turn.question}", ""]
        if turn.searched and turn.searched != turn.question:
            out += [f"Searched for: {turn.searched}", ""]
        if turn.sources:
            out += ["Only in: " + ", ".join(turn.sources), ""]
        if turn.error:
            out += [f"Error: {turn.error}", ""]
            continue
        if turn.answer is None:
            out += ["(still searching)", ""]
            continue
        out += [turn.answer.message, ""]
        for quote in turn.answer.quotes:
            out += _markdown_quote(quote)
        if turn.answer.more:
            out += ["### More passages", ""]
            for quote in turn.answer.more:
                out += _markdown_quote(quote)
        out += [f"Note: {warning}" for warning in turn.answer.warnings]
    return "\n".join(out).rstrip() + "\n"
