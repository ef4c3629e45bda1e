"""A conversation in the web chat, without the web: turns, freshness, copy and export.

Nothing here imports gradio; :mod:`qa.web.app` wires these functions to the page and
:mod:`qa.web.render` turns them into HTML.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..answer.compose import Answer
from ..answer.quotes import Quote
from ..config import QUESTION_CHARS
from ..errors import QAError, QueryError
from ..eval.feedback import VoteValue
from ..index import Index
from ..search.request import check_question
from ..text.lines import split_lines

log = logging.getLogger(__name__)

#: Turns of a conversation kept (older ones drop off the top; turns keep their ids).
MAX_TURNS = 100

_KEY = re.compile(r"([qm])([0-9]{1,3})")


@dataclass(frozen=True)
class Turn:
    """One question and its answer in a conversation.

    Attributes:
        id: The turn's number in its conversation, stable while older turns drop off.
        question: The question as typed (or the search as edited, for ``literal`` turns).
        searched: What was searched (the question, or a follow-up expanded with the
            previous turn's subject); the person can edit and re-run it.
        sources: Files or folders the question was limited to (empty: all).
        literal: Searched exactly as written, with no follow-up expansion.
        answer: The answer; ``None`` while it is being searched.
        error: A message for a question that could not be answered.
        asked: When it was asked (seconds since the epoch).
        indexed: For each file the answer cites, the hash of its bytes the index held
            when the answer was given (``""``: not indexed); a different hash later
            means the file changed since the answer.

    """

    id: int
    question: str
    searched: str = ""
    sources: tuple[str, ...] = ()
    literal: bool = False
    answer: Answer | None = None
    error: str = ""
    asked: float = 0.0
    indexed: tuple[tuple[str, str], ...] = ()

    @property
    def pending(self) -> bool:
        """Whether the answer is still being searched."""
        return self.answer is None and not self.error

    def quotes(self) -> tuple[Quote, ...]:
        """Every passage of the answer: the quotes, then the further passages."""
        return () if self.answer is None else (*self.answer.quotes, *self.answer.more)

    def quote(self, key: object) -> Quote | None:
        """The passage with ``key`` (``q<rank>`` for a quote, ``m<rank>`` for a further passage), or ``None``."""
        match = _KEY.fullmatch(key) if isinstance(key, str) else None
        if self.answer is None or match is None:
            return None
        group = self.answer.quotes if match[1] == "q" else self.answer.more
        return next((q for q in group if q.rank == int(match[2])), None)


def quote_key(prefix: str, quote: Quote) -> str:
    """The key of a quote within its turn: ``q<rank>`` (quote) or ``m<rank>`` (further passage)."""
    return f"{prefix}{quote.rank}"


def history(turns: Sequence[Turn]) -> list[str]:
    """The earlier questions of a conversation as typed, oldest first: the context of a follow-up.

    Questions, not the searches they were expanded to: expanding an expansion again would
    make a chain of follow-ups grow without end. A question still being searched counts
    (its text is known); one that failed does not.
    """
    return [t.question for t in turns if not t.error]


class Conversation:
    """The turns and votes of one chat session, safe to change from several events at once.

    Gradio hands the same object to every event of a session; each change happens under
    the lock and bumps :attr:`version`, and every rendering reads a consistent copy.
    """

    def __init__(self) -> None:
        """An empty conversation."""
        self._lock = threading.Lock()
        self._turns: list[Turn] = []
        self._votes: dict[tuple[int, str], VoteValue] = {}
        self._answering: set[int] = set()
        self._next = 0
        self.version = 0
        self.id = uuid.uuid4().hex

    def __deepcopy__(self, memo: dict[int, object]) -> Conversation:
        """A new empty conversation (Gradio copies the initial value for each session)."""
        return Conversation()

    def view(self) -> tuple[tuple[Turn, ...], dict[tuple[int, str], VoteValue], int]:
        """``(turns, votes, version)`` as they are now."""
        with self._lock:
            return tuple(self._turns), dict(self._votes), self.version

    def turn(self, turn_id: object) -> Turn | None:
        """The turn with ``turn_id``, or ``None``."""
        if not isinstance(turn_id, int) or isinstance(turn_id, bool):
            return None
        with self._lock:
            return next((t for t in self._turns if t.id == turn_id), None)

    def ask(
        self, question: object, sources: Sequence[str] = (), *, literal: bool = False, limit: int = QUESTION_CHARS
    ) -> Turn:
        """Add a pending turn for ``question`` (``literal``: search it exactly as written).

        Raises:
            QueryError: The question is not text, empty or over ``limit`` characters.

        """
        text = check_question(question, limit)
        if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
            raise QueryError("choose files or folders from the list")
        with self._lock:
            turn = Turn(self._next, text, text if literal else "", tuple(sources), literal, asked=time.time())
            self._next += 1
            self._turns.append(turn)
            # Votes on turns that drop off go with them.
            for old in self._turns[:-MAX_TURNS]:
                self._votes = {k: v for k, v in self._votes.items() if k[0] != old.id}
            del self._turns[:-MAX_TURNS]
            self.version += 1
            return turn

    def vote(self, turn_id: int, key: str, vote: VoteValue) -> None:
        """Record a vote on a quote of a turn (shown as pressed)."""
        with self._lock:
            self._votes[(turn_id, key)] = vote
            self.version += 1

    def answer_pending(self, index: Index) -> bool:
        """Answer every pending turn, oldest first; whether any was answered here.

        A turn is answered by one caller only; questions asked meanwhile are answered too.
        """
        answered = False
        while True:
            with self._lock:
                position = next(
                    (n for n, t in enumerate(self._turns) if t.pending and t.id not in self._answering), None
                )
                if position is None:
                    return answered
                turn = self._turns[position]
                earlier = history(self._turns[:position])
                self._answering.add(turn.id)
            done: Turn | None = None
            try:
                done = answered_turn(turn, index, earlier)
            finally:
                # The answer goes in as the turn is let go, under one hold of the lock: else
                # another caller could find it still pending and nobody answering it.
                with self._lock:
                    self._answering.discard(turn.id)
                    # The turn may have dropped off meanwhile: then there is nothing to put back.
                    for n, current in enumerate(self._turns):
                        if done is not None and current.id == turn.id:
                            self._turns[n] = done
                            self.version += 1
            answered = True


def answered_turn(turn: Turn, index: Index, earlier: Sequence[str]) -> Turn:
    """``turn`` with its answer (or the error that prevented one)."""
    try:
        if turn.literal:
            answer = index.answer(turn.searched, sources=turn.sources or None)
        else:
            answer = index.answer(turn.question, sources=turn.sources or None, history=earlier)
    except QAError as exc:
        return replace(turn, error=str(exc), searched=turn.searched or turn.question)
    except Exception:
        log.exception("failed to answer %r", turn.question)
        failed = "Something went wrong while answering; the details are in the server log."
        return replace(turn, error=failed, searched=turn.searched or turn.question)
    files = index.manifest.files
    cited = {p.source for q in (*answer.quotes, *answer.more) for p in (q.passage, *q.duplicates)}
    return replace(
        turn,
        answer=answer,
        searched=answer.searched or turn.searched or turn.question,
        indexed=tuple(sorted((source, files.get(source, "")) for source in cited)),
    )


def stale_quotes(turns: Sequence[Turn], index: Index) -> frozenset[tuple[int, str]]:
    """``(turn id, quote key)`` of every quote whose file (or a duplicate's) changed or went since its answer.

    Compared are the bytes the index holds now and held when the answer was given, so
    a file edited just before the question (and quoted as it is now) is not flagged.
    """
    files = index.manifest.files
    stale = set()
    for turn in turns:
        if turn.answer is None:
            continue
        changed = {source for source, digest in turn.indexed if files.get(source, "") != digest}
        if not changed:
            continue
        for group, prefix in ((turn.answer.quotes, "q"), (turn.answer.more, "m")):
            for quote in group:
                if any(p.source in changed for p in (quote.passage, *quote.duplicates)):
                    stale.add((turn.id, quote_key(prefix, quote)))
    return frozenset(stale)


def quote_text(quote: Quote) -> str:
    """What "copy" puts on the clipboard: the verbatim quote and its citation, as plain text."""
    title = f"{quote.title} — " if quote.title else ""
    return f"“{quote.text}”\n— {title}{quote.citation}"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&=])")
#: The spaces and tabs that open a line.
_INDENT = re.compile(r"(?:^|(?<=[\r\n]))[ \t]+")


def markdown_text(text: str) -> str:
    """``text`` with Markdown's and HTML's special characters escaped, so that it renders as written."""
    escaped = _MARKDOWN.sub(r"\\\1", text)
    # Spaces and tabs opening a line would make an indented code block, or be dropped: keep them as written.
    return _INDENT.sub(lambda lead: lead[0].replace(" ", "&#32;").replace("\t", "&#9;"), escaped)


def _markdown_quote(quote: Quote) -> list[str]:
    """A quote as a Markdown block quote (its lines as written) with its citation."""
    title = f"{markdown_text(quote.title)} — " if quote.title else ""
    lines = [f"> {markdown_text(line)}" if line.strip() else ">" for line in split_lines(quote.text)]
    return [*lines, "", f"— [{quote.rank}] {title}{markdown_text(quote.citation)}", ""]


def export_markdown(turns: Sequence[Turn]) -> str:
    """The conversation as Markdown: every question, quote and citation, escaped to render as written."""
    out = ["# Conversation with the articles", ""]
    for turn in turns:
        out += [f"## {markdown_text(' '.join(turn.question.split()))}", ""]
        if turn.searched and turn.searched != turn.question:
            out += [f"Searched for: {markdown_text(turn.searched)}", ""]
        if turn.sources:
            out += ["Only in: " + ", ".join(markdown_text(s) for s in turn.sources), ""]
        if turn.error:
            out += [f"Error: {markdown_text(turn.error)}", ""]
            continue
        if turn.answer is None:
            out += ["(still searching)", ""]
            continue
        out += [markdown_text(turn.answer.message), ""]
        for quote in turn.answer.quotes:
            out += _markdown_quote(quote)
        if turn.answer.more:
            out += ["### More passages", ""]
            for quote in turn.answer.more:
                out += _markdown_quote(quote)
        out += [f"Note: {markdown_text(warning)}" for warning in turn.answer.warnings]
    return "\n".join(out).rstrip() + "\n"
