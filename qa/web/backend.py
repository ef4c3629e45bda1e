"""The chat's behaviour without the web framework: one method per event of the page, and the JSON API.

:mod:`qa.web.app` wires these methods to Gradio's components and turns :data:`KEEP` and
:class:`Choices` into Gradio's own updates; nothing here imports gradio.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answer.compose import Answer
from ..answer.quotes import Quote
from ..config import MAX_ANSWER_K
from ..errors import QAError, QueryError
from ..eval.feedback import Vote, VoteValue, feedback_path, record_vote
from ..index import Index
from ..live import LiveIndex
from . import render
from .conversation import Conversation, Turn, export_markdown, quote_key, stale_quotes
from .sourceview import source_view

log = logging.getLogger(__name__)

#: Most passages the HTTP endpoint ranks for one request.
MAX_K = MAX_ANSWER_K

#: Characters of a refused question echoed back.
ECHO = 80


class _Keep:
    """The type of :data:`KEEP`."""

    def __repr__(self) -> str:
        return "KEEP"


#: What an event returns for a part of the page it leaves as it is.
KEEP = _Keep()


@dataclass(frozen=True)
class Choices:
    """New choices for the "search only in" list, and what stays chosen (``None``: leave the choice alone)."""

    choices: list[str]
    value: list[str] | None = None


@dataclass(frozen=True)
class Seen:
    """What the page last showed of things that change in the background."""

    stale: frozenset[tuple[int, str]] = frozenset()
    version: int = -1
    choices: tuple[str, ...] = ()


class ChatBackend:
    """The chat's behaviour, one method per event; each session's state is a :class:`Conversation`."""

    def __init__(self, index: Index | LiveIndex, *, warn: Callable[[str], None] = log.warning) -> None:
        """Serve answers from ``index`` (wrapped in a :class:`LiveIndex` if it is a plain state).

        ``warn`` shows a person a passing message (Gradio's toast on the page).
        """
        if isinstance(index, Index):
            index = LiveIndex(index.folder, index.corpus, settings=index.settings, index=index)
        self.live = index
        self._warn = warn
        self._exports = Path(tempfile.mkdtemp(prefix="qa-export-"))
        self._choices: tuple[str, int, list[str]] = ("", -1, [])

    @property
    def index(self) -> Index:
        """The state answers come from now."""
        return self.live.current()

    @property
    def limit(self) -> int:
        """Longest question accepted (``Settings.max_question_chars``)."""
        return self.index.settings.max_question_chars

    # -- API ----------------------------------------------------------------------------------

    def ask(self, question: object, k: object = None, sources: object = None) -> dict[str, Any]:
        """The answer as JSON data (what ``qa ask --json`` prints); bad input as ``{"error"}``.

        This is the HTTP edge: ``k`` is a whole number from 1 to :data:`MAX_K` (``None``:
        the default), ``sources`` a list of file or folder names or ``None``, the
        question text of at most ``settings.max_question_chars`` characters. A refused request
        echoes at most a short prefix of its question.
        """
        try:
            if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
                shown = repr(k) if isinstance(k, (int, float, bool)) else f"a {type(k).__name__}"
                raise QueryError(f"k must be a whole number from 1 to {MAX_K}, got {shown}")
            if sources is not None and (
                not isinstance(sources, list) or not all(isinstance(s, str) and len(s) <= 1000 for s in sources)
            ):
                raise QueryError("sources must be a list of files or folders")
            return self.index.answer(question, k, sources=sources or None).to_dict()  # type: ignore[arg-type]
        except QAError as exc:
            text = question if isinstance(question, str) else ""
            if len(text) > ECHO:
                text = text[:ECHO] + "…"
            # The answer's own keys (nothing was searched), so that a caller reads every reply the same way.
            return {**Answer(text, False, (), str(exc)).to_dict(), "searched": "", "error": str(exc)}

    # -- page parts ---------------------------------------------------------------------------

    def status_html(self) -> str:
        """The index status: files, paragraphs, model, last update, running update or failure."""
        index = self.index
        return render.status_html(self.live.status(), index.manifest.model)

    def choices(self) -> list[str]:
        """Files and folders a question can be limited to (listed once per index state)."""
        index = self.index
        key = (index.snapshot.meta.epoch, index.generation)
        if self._choices[:2] != key:
            self._choices = (*key, [*index.folders(), *index.sources()])
        return list(self._choices[2])

    def page(self, conversation: Conversation) -> tuple[str, frozenset[tuple[int, str]], int]:
        """The conversation as HTML as it is now, with "changed since" badges; and what it showed."""
        turns, votes, version = conversation.view()
        stale = stale_quotes(turns, self.index)
        return render.conversation_html(turns, stale, votes), stale, version

    def export(self, conversation: Conversation) -> str | None:
        """Write the conversation as Markdown to its session's file and return its path."""
        turns, _, _ = conversation.view()
        if not turns:
            return None
        path = self._exports / conversation.id / "conversation.md"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside under a name of its own and renamed, so that neither a download in
            # progress nor another event of the same session ever sees half a file.
            handle, part = tempfile.mkstemp(suffix=".part", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(export_markdown(turns))
            os.replace(part, path)
        except OSError:
            log.exception("could not write the conversation for export")
            return None
        return str(path)

    def forget(self, conversation: Conversation) -> None:
        """Remove a closed session's export file."""
        shutil.rmtree(self._exports / conversation.id, ignore_errors=True)

    def close(self) -> None:
        """Remove every export file (the server is stopping)."""
        shutil.rmtree(self._exports, ignore_errors=True)

    # -- events -------------------------------------------------------------------------------

    def start(self, message: str, conversation: Conversation, sources: list[str] | None) -> tuple[str, str]:
        """Show the question at once, with a searching indicator; :meth:`finish` answers it.

        Returns:
            ``(conversation HTML, text left in the question box)``.

        """
        try:
            conversation.ask(message, sources or (), limit=self.limit)
        except QAError as exc:
            self._warn(str(exc))
            return self.page(conversation)[0], message
        return self.page(conversation)[0], ""

    def finish(self, conversation: Conversation) -> tuple[Any, Any]:
        """Answer every pending question, show the answers and offer the conversation for export."""
        if not conversation.answer_pending(self.index):
            return KEEP, KEEP
        return self.page(conversation)[0], self.export(conversation)

    def act(self, conversation: Conversation, event: object) -> tuple[Any, str | None]:
        """A click in the conversation: open a citation, vote, ask again or search again.

        ``event`` comes from the page and is not trusted: anything that does not name a
        turn and quote of this conversation changes nothing.

        Returns:
            ``(conversation HTML or KEEP, source pane HTML or None to leave it)``.

        """
        data = event if isinstance(event, dict) else {}
        action = data.get("action")
        turn = conversation.turn(data.get("turn"))
        if turn is None:
            return KEEP, None
        quote = turn.quote(data.get("quote"))
        if action == "cite" and quote is not None:
            try:
                return KEEP, render.source_html(source_view(self.index, quote))
            except QAError as exc:
                return KEEP, render.source_message_html(str(exc))
        try:
            if action == "vote" and quote is not None and data.get("vote") in ("up", "down"):
                vote: VoteValue = "up" if data["vote"] == "up" else "down"
                prefix = "q" if turn.answer is not None and quote in turn.answer.quotes else "m"
                conversation.vote(turn.id, quote_key(prefix, quote), vote)
                self._record(turn, quote, vote)
            elif action == "reask":
                conversation.ask(turn.searched or turn.question, turn.sources, literal=True, limit=self.limit)
            elif action == "rerun" and isinstance(data.get("query"), str):
                conversation.ask(data["query"], turn.sources, literal=True, limit=self.limit)
            else:
                return KEEP, None
        except QAError as exc:
            self._warn(str(exc))
            return KEEP, None
        return self.page(conversation)[0], None

    def _record(self, turn: Turn, quote: Quote, vote: VoteValue) -> None:
        """Append a vote to the feedback file beside the index."""
        try:
            searched = turn.searched or turn.question
            record_vote(
                feedback_path(self.live.folder),
                Vote.for_hit(quote, question=turn.question, searched=searched, vote=vote),
            )
        except QAError as exc:
            self._warn(f"Your vote could not be saved: {exc}")

    def tick(self, conversation: Conversation, seen: Seen, chosen: list[str] | None) -> tuple[Any, ...]:
        """Every second: the status line; the conversation when it or its badges changed; the filter choices.

        The conversation goes back out unchanged: that keeps Gradio counting the session
        as alive, and lets it drop the conversation (and its export) once the page is gone.
        """
        page: Any = KEEP
        turns, votes, version = conversation.view()
        stale = stale_quotes(turns, self.index)
        if (stale, version) != (seen.stale, seen.version):
            page = render.conversation_html(turns, stale, votes)
        choices = tuple(self.choices())
        filters: Any = KEEP
        if choices != seen.choices:
            # A chosen file that is gone is dropped from the choice too; otherwise the
            # choice is left alone (the person may be choosing right now).
            kept = [c for c in chosen or [] if c in choices]
            filters = Choices(list(choices), kept if kept != list(chosen or []) else None)
        return self.status_html(), page, filters, Seen(stale, version, choices), conversation
