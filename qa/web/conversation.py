"""A conversation in the web chat, without the web: turns, freshness, copy and export.

Nothing here imports gradio; :mod:`qa.web.app` wires these functions to the page and
:mod:`qa.web.render` turns them into HTML.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..answer.compose import Answer
from ..answer.quotes import Quote
from ..config import QUESTION_CHARS
from ..errors import QAError, QueryError
from ..eval.feedback import VoteValue
from ..index import Index
from ..search.request import check_question
from ..text.lines import split_lines
from ..text.passages import Passage

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
    the lock and bumps :attr:`version`, and every rendering reads a consistent copy. This
    one lives in memory; :class:`qa.web.sessions.SavedConversation` keeps its turns in the
    conversation store too, through the hooks below.
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

    @property
    def title(self) -> str:
        """What the conversation is about: its first question (``""`` while it has none)."""
        with self._lock:
            return self._turns[0].question if self._turns else ""

    def view(self) -> tuple[tuple[Turn, ...], dict[tuple[int, str], VoteValue], int]:
        """``(turns, votes, version)`` as they are now."""
        self._refresh()
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
        when = time.time()

        def make(turn_id: int) -> Turn:
            return Turn(turn_id, text, text if literal else "", tuple(sources), literal, asked=when)

        stored = self._added(make)
        with self._lock:
            # Numbered and added under one hold of the lock, unless a store numbered it.
            turn = stored if stored is not None else make(self._next)
            # In id order, whichever of two questions asked at once got its id first; once only,
            # though a read of the store may have brought the stored turn in already.
            if all(t.id != turn.id for t in self._turns):
                bisect.insort(self._turns, turn, key=lambda t: t.id)
            self._next = max(self._next, turn.id + 1)
            # Votes on turns that drop off go with them.
            for old in self._turns[:-MAX_TURNS]:
                self._votes = {k: v for k, v in self._votes.items() if k[0] != old.id}
            del self._turns[:-MAX_TURNS]
            self.version += 1
            return turn

    def vote(self, turn_id: int, key: str, vote: VoteValue | None) -> bool:
        """Record a vote on a quote of a turn (shown as pressed), or take it back (``None``).

        Returns:
            Whether anything changed: the same vote again changes nothing.

        """
        with self._lock:
            if self._votes.get((turn_id, key)) == vote:
                return False
        self._voted(turn_id, key, vote)
        with self._lock:
            if vote is None:
                self._votes.pop((turn_id, key), None)
            else:
                self._votes[(turn_id, key)] = vote
            self.version += 1
        return True

    def answer_pending(self, index: Index) -> bool:
        """Answer every pending turn, oldest first; whether any was answered here.

        A turn is answered by one caller only; questions asked meanwhile are answered too.
        """
        answered = False
        skipped: set[int] = set()
        while True:
            with self._lock:
                position = next(
                    (
                        n
                        for n, t in enumerate(self._turns)
                        if t.pending and t.id not in self._answering and t.id not in skipped
                    ),
                    None,
                )
                if position is None:
                    return answered
                turn = self._turns[position]
                earlier = history(self._turns[:position])
                self._answering.add(turn.id)
            # Another session or server answering it already: its answer arrives through the store.
            if not self._claim(turn.id):
                with self._lock:
                    self._answering.discard(turn.id)
                skipped.add(turn.id)
                continue
            done: Turn | None = None
            try:
                done = answered_turn(turn, index, earlier)
                self._answered(done)
            finally:
                self._release(turn.id)
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

    # -- hooks of a conversation kept in a store ----------------------------------------------

    def _added(self, make: Callable[[int], Turn]) -> Turn | None:
        """The new turn as a store numbered and kept it; ``None``: numbered here, in memory."""
        return None

    def _answered(self, turn: Turn) -> None:
        """A turn got its answer (or its error)."""

    def _voted(self, turn_id: int, key: str, vote: VoteValue | None) -> None:
        """A vote was cast or taken back."""

    def _claim(self, turn_id: int) -> bool:
        """Whether this caller may answer the turn (a store lets one caller in all its sessions)."""
        return True

    def _release(self, turn_id: int) -> None:
        """The turn is answered (or failed): another caller may take it."""

    def _refresh(self) -> None:
        """Take in what other sessions changed (a store's newer version)."""


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


@dataclass(frozen=True)
class Notice:
    """Why a quote of an earlier answer is flagged.

    Attributes:
        moved: The paragraph is still in its file word for word, at another place (``now``);
            otherwise its text changed or its file went.
        now: Where the paragraph is now (``¶7 (lines 9-10)``), for a moved one.

    """

    moved: bool = False
    now: str = ""


def stale_quotes(
    turns: Sequence[Turn], index: Index, passages_of: Callable[[str], Sequence[Passage]] | None = None
) -> dict[tuple[int, str], Notice]:
    """The quotes of earlier answers whose paragraph changed, went or moved since, by ``(turn id, quote key)``.

    Only files whose bytes the index holds differently now than when the answer was given
    are looked at (a file edited just before the question, and quoted as it is now, is not
    flagged); in them, a quote whose paragraph is still there, word for word at its place,
    is not flagged either: an edit elsewhere in the file leaves it as it was.

    Args:
        turns: The conversation's turns.
        index: The index state of now.
        passages_of: A file's paragraphs now (default: read from ``index``; a caller may cache).

    """
    files = index.manifest.files
    read = passages_of or index.passages_of
    now: dict[str, Sequence[Passage]] = {}
    stale: dict[tuple[int, str], Notice] = {}
    for turn in turns:
        if turn.answer is None:
            continue
        changed = {source for source, digest in turn.indexed if files.get(source, "") != digest}
        if not changed:
            continue
        for group, prefix in ((turn.answer.quotes, "q"), (turn.answer.more, "m")):
            for quote in group:
                if quote.source not in changed:
                    continue
                if quote.source not in now:
                    now[quote.source] = read(quote.source) if quote.source in files else ()
                notice = _freshness(quote.passage, now[quote.source])
                if notice is not None:
                    stale[(turn.id, quote_key(prefix, quote))] = notice
    return stale


def _freshness(passage: Passage, current: Sequence[Passage]) -> Notice | None:
    """How ``passage`` stands among its file's ``current`` paragraphs: ``None`` if word for word at its place."""
    same = [p for p in current if p.sha256 == passage.sha256]
    at_place = (passage.paragraph, passage.start_line, passage.end_line, passage.start_char)
    if any((p.paragraph, p.start_line, p.end_line, p.start_char) == at_place for p in same):
        return None
    if same:
        moved = min(same, key=lambda p: (abs(p.paragraph - passage.paragraph), p.paragraph))
        return Notice(moved=True, now=moved.place)
    return Notice()


def quote_text(quote: Quote) -> str:
    """What "copy" puts on the clipboard: the verbatim quote and its citation, as plain text."""
    title = f"{quote.title} — " if quote.title else ""
    return f"“{quote.text}”\n— {title}{quote.citation}"


#: Characters that mean something to Markdown wherever they stand: escaped everywhere. An underscore
#: means something only at the edge of a word, ``&`` only before what reads as an entity.
_INLINE = re.compile(r"[\\`*\[\]<>~|]|(?<![^\W_])_|_(?![^\W_])|&(?=#?\w+;)")
#: What starts a block at the start of a line (after up to three spaces): a heading, a list item,
#: an ordered item's number, a line of ``=`` or ``-`` (a heading's underline, or a break).
_BLOCK = re.compile(
    r"^(?P<lead>[ \t]*)(?:#|[-+](?=[ \t]|$)|(?P<number>\d{1,9})(?P<end>[.)])(?=[ \t]|$)|[=-]+[ \t]*\r?$)"
)
#: The spaces and tabs that open a line.
_INDENT = re.compile(r"(?:^|(?<=[\r\n]))[ \t]+")


def markdown_text(text: str) -> str:
    """``text`` escaped so that it renders as written, and still reads as written.

    Only what Markdown would take for markup is escaped (``C. (1952) file_name.txt`` is left
    as it is): inline marks everywhere, and block marks where they start a line.
    """
    escaped = "\n".join(_escape_line(line) for line in text.split("\n"))
    # Spaces and tabs opening a line would make an indented code block, or be dropped: keep them as written.
    return _INDENT.sub(lambda lead: lead[0].replace(" ", "&#32;").replace("\t", "&#9;"), escaped)


def _escape_line(line: str) -> str:
    """One line with its inline marks escaped, and the block mark it starts with."""
    escaped = _INLINE.sub(lambda mark: "\\" + mark[0], line)
    block = _BLOCK.match(escaped)
    if block is None:
        return escaped
    if block["number"] is not None:
        return f"{block['lead']}{block['number']}\\{block['end']}{escaped[block.end() :]}"
    return f"{block['lead']}\\{escaped[len(block['lead']) :]}"


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
