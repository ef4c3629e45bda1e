"""The chat's behaviour without the web framework: one method per event of the page, and the JSON API.

:mod:`qa.web.app` wires these methods to Gradio's components and turns :data:`KEEP` and
:class:`Choices` into Gradio's own updates; nothing here imports gradio. The side panels
(conversations, documents) and the source pane have their own methods below.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..answer.compose import Answer
from ..answer.quotes import Quote
from ..config import MAX_ANSWER_K
from ..errors import QAError, QueryError
from ..eval.feedback import Vote, VoteValue, feedback_path, record_vote
from ..index import Index
from ..live import LiveIndex
from ..text.passages import Passage
from . import pane, panels, render
from .access import Access
from .conversation import Conversation, Notice, Turn, export_markdown, quote_key, stale_quotes
from .documents import Documents
from .examples import CONFIDENT, NOT_ANSWERED, WEAK, example_questions
from .outputs import KEEP, Choices, Opened, PaneState, Seen
from .sessions import SavedConversation, Sessions, owner_of
from .sourceview import document_view, original, source_view

log = logging.getLogger(__name__)

#: Most passages the HTTP endpoint ranks for one request.
MAX_K = MAX_ANSWER_K

#: Characters of a refused question echoed back.
ECHO = 80

#: Example questions offered under the chat at most.
EXAMPLES = 3

#: Files' paragraphs kept for the "changed since this answer" notices (per index state).
_PASSAGE_CACHE = 64


class ChatBackend:
    """The chat's behaviour, one method per event; each session's state is a :class:`Conversation`."""

    def __init__(
        self,
        index: Index | LiveIndex,
        *,
        access: Access = Access(),
        warn: Callable[[str], None] = log.warning,
        sessions: Sessions | None = None,
    ) -> None:
        """Serve answers from ``index`` (wrapped in a :class:`LiveIndex` if it is a plain state).

        ``warn`` shows a person a passing message (Gradio's toast on the page). Conversations
        are kept in the store beside the index (``sessions``, made here by default).
        """
        if isinstance(index, Index):
            index = LiveIndex(index.folder, index.corpus, settings=index.settings, index=index)
        self.live = index
        self.access = access
        self.documents = Documents(index, access)
        self.sessions = sessions if sessions is not None else Sessions(index.folder)
        self._warn = warn
        self._exports = Path(tempfile.mkdtemp(prefix="qa-export-"))
        self._choices: tuple[str, int, list[str]] = ("", -1, [])
        self._examples: tuple[tuple[str, int], list[str]] = (("", -1), [])
        self._passages: OrderedDict[tuple[str, int, str], list[Passage]] = OrderedDict()

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

    def examples(self) -> list[str]:
        """Questions to try about the documents served, each one the index answers (worked out once per state)."""
        index = self.index
        key = (index.snapshot.meta.epoch, index.generation)
        if self._examples[0] != key:

            def answered(question: str) -> int:
                try:
                    answer = index.answer(question)
                except QAError:
                    return NOT_ANSWERED
                return CONFIDENT if answer.found and answer.confident else WEAK if answer.found else NOT_ANSWERED

            def text_of(source: str) -> str:
                return "\n\n".join(passage.text for passage in index.passages_of(source))

            self._examples = (key, example_questions(index.documents(), text_of, answered, EXAMPLES))
        return list(self._examples[1])

    def stale(self, turns: Sequence[Turn]) -> dict[tuple[int, str], Notice]:
        """The quotes of ``turns`` whose paragraph changed, went or moved, by ``(turn id, quote key)``."""
        index = self.index
        state = (index.snapshot.meta.epoch, index.generation)

        def passages_of(source: str) -> list[Passage]:
            key = (*state, source)
            if key not in self._passages:
                self._passages[key] = index.passages_of(source)
                while len(self._passages) > _PASSAGE_CACHE:
                    self._passages.popitem(last=False)
            return self._passages[key]

        return stale_quotes(turns, index, passages_of)

    def page(self, conversation: Conversation) -> tuple[str, dict[tuple[int, str], Notice], int]:
        """The conversation as HTML as it is now, with "changed since" notices; and what it showed."""
        turns, votes, version = conversation.view()
        stale = self.stale(turns)
        return render.conversation_html(turns, stale, votes), stale, version

    def export(self, conversation: Conversation) -> str | None:
        """Write the conversation as Markdown to its session's file and return its path."""
        turns, _, _ = conversation.view()
        if not turns:
            return None
        return self._write(conversation.id, "conversation.md", export_markdown(turns).encode("utf-8"))

    def _write(self, session: str, name: str, data: bytes) -> str | None:
        """Write ``data`` to a session's file for download; its path, or ``None`` if it cannot be written."""
        path = self._exports / session / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside under a name of its own and renamed, so that neither a download in
            # progress nor another event of the same session ever sees half a file.
            handle, part = tempfile.mkstemp(suffix=".part", dir=path.parent)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(part, path)
        except OSError:
            log.exception("could not write %s for download", name)
            return None
        return str(path)

    def forget(self, conversation: Conversation) -> None:
        """Remove a closed session's files for download."""
        shutil.rmtree(self._exports / conversation.id, ignore_errors=True)

    def close(self) -> None:
        """Remove every file written for download (the server is stopping)."""
        shutil.rmtree(self._exports, ignore_errors=True)

    def _said(self, conversation: Conversation) -> None:
        """Tell the person once if their conversation could not be saved."""
        if isinstance(conversation, SavedConversation) and conversation.problem:
            self._warn(conversation.problem)
            conversation.problem = ""

    # -- chat events --------------------------------------------------------------------------

    def restore(self, username: str | None, browser: str) -> tuple[Conversation, str, str | None, str]:
        """On page load: the conversation this person had open, its HTML, its export, and their list."""
        owner = _owner(username, browser)
        try:
            conversation = self.sessions.open(owner)
        except QAError as exc:
            self._warn(f"Your saved conversations cannot be read now ({exc}); this one is not kept.")
            conversation = Conversation()
        return conversation, self.page(conversation)[0], self.export(conversation), self.conversations(conversation)

    def conversations(self, conversation: Conversation) -> str:
        """The sidebar's list of the person's conversations."""
        if not isinstance(conversation, SavedConversation) or conversation.detached:
            return panels.message_html("This conversation is kept in this page only: it is not saved.")
        try:
            return panels.conversations_html(self.sessions.summaries(conversation.owner), conversation.id)
        except QAError as exc:
            return panels.message_html(f"Saved conversations cannot be listed now: {exc}")

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
        self._said(conversation)
        return self.page(conversation)[0], ""

    def finish(self, conversation: Conversation) -> tuple[Any, Any, Any]:
        """Answer every pending question, show the answers, offer the conversation for export, list it."""
        if not conversation.answer_pending(self.index):
            return KEEP, KEEP, KEEP
        self._said(conversation)
        return self.page(conversation)[0], self.export(conversation), self.conversations(conversation)

    def act(self, conversation: Conversation, event: object) -> tuple[Any, Opened | None]:
        """A click in the conversation: open a citation, vote or take a vote back, ask again or search again.

        ``event`` comes from the page and is not trusted: anything that does not name a
        turn and quote of this conversation changes nothing.

        Returns:
            ``(conversation HTML or KEEP, the source pane's new content or None to leave it)``.

        """
        data = event if isinstance(event, dict) else {}
        action = data.get("action")
        turn = conversation.turn(data.get("turn"))
        if turn is None:
            return KEEP, None
        quote = turn.quote(data.get("quote"))
        if action == "cite" and quote is not None:
            return KEEP, self._quoted(conversation, turn, data["quote"], quote, None)
        try:
            if action in ("vote", "unvote") and quote is not None:
                vote: VoteValue | None = None
                if action == "vote":
                    if data.get("vote") not in ("up", "down"):
                        return KEEP, None
                    vote = "up" if data["vote"] == "up" else "down"
                prefix = "q" if turn.answer is not None and quote in turn.answer.quotes else "m"
                # The same vote again changes nothing and writes nothing.
                if conversation.vote(turn.id, quote_key(prefix, quote), vote):
                    self._record(turn, quote, vote or "none")
            elif action == "reask":
                conversation.ask(turn.searched or turn.question, turn.sources, literal=True, limit=self.limit)
            elif action == "rerun" and isinstance(data.get("query"), str):
                conversation.ask(data["query"], turn.sources, literal=True, limit=self.limit)
            else:
                return KEEP, None
        except QAError as exc:
            self._warn(str(exc))
            return KEEP, None
        self._said(conversation)
        return self.page(conversation)[0], None

    def _record(self, turn: Turn, quote: Quote, vote: VoteValue) -> None:
        """Append a vote (or its taking back) to the feedback file beside the index."""
        try:
            searched = turn.searched or turn.question
            record_vote(
                feedback_path(self.live.folder),
                Vote.for_hit(quote, question=turn.question, searched=searched, vote=vote),
            )
        except QAError as exc:
            self._warn(f"Your vote could not be saved: {exc}")

    def tick(
        self, conversation: Conversation, seen: Seen, chosen: list[str] | None, search: str | None = ""
    ) -> tuple[Any, ...]:
        """Every second: the status; the conversation if it or its notices changed; the filter choices; the documents.

        The conversation itself is never given back: a tick still running when the person
        opened another conversation would put the old one back under the page.
        """
        page: Any = KEEP
        turns, votes, version = conversation.view()
        stale = self.stale(turns)
        shown = tuple(sorted(stale.items()))
        if (shown, version) != (seen.stale, seen.version):
            page = render.conversation_html(turns, stale, votes)
        choices = tuple(self.choices())
        filters: Any = KEEP
        if choices != seen.choices:
            # A chosen file that is gone is dropped from the choice too; otherwise the
            # choice is left alone (the person may be choosing right now).
            kept = [c for c in chosen or [] if c in choices]
            filters = Choices(list(choices), kept if kept != list(chosen or []) else None)
        index = self.index
        state = (index.snapshot.meta.epoch, index.generation, search or "")
        documents: Any = self.documents_html(search) if state != seen.documents else KEEP
        return self.status_html(), page, filters, Seen(shown, version, choices, state), documents

    # -- the source pane ----------------------------------------------------------------------

    def _quoted(self, conversation: Conversation, turn: Turn, key: str, quote: Quote, page: int | None) -> Opened:
        """The pane showing the article a quote comes from (at ``page`` of a PDF)."""
        try:
            view = source_view(self.index, quote, page)
        except QAError as exc:
            return Opened(pane.source_message_html(str(exc)), PaneState(turn.id, key, quote.source), None)
        download = self._original(conversation, quote.source)
        return Opened(pane.source_html(view), PaneState(turn.id, key, quote.source, view.page), download)

    def _document(self, conversation: Conversation, source: str, page: int) -> Opened:
        """The pane showing a document from its start (at ``page`` of a PDF)."""
        try:
            view = document_view(self.index, source, page)
        except QAError as exc:
            return Opened(pane.source_message_html(str(exc)), PaneState(source=source), None)
        download = self._original(conversation, source)
        return Opened(pane.source_html(view), PaneState(source=source, page=view.page), download)

    def _original(self, conversation: Conversation, source: str) -> str | None:
        """The file's bytes as they are now, written for "download original" (indexed files only)."""
        try:
            raw = original(self.index, source)
        except QAError:
            return None
        name = re.sub(r"[^\w.\- ]", "_", source.rsplit("/", 1)[-1]) or "original"
        # A folder per file: a/report.pdf and b/report.pdf never share a download.
        folder = hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return self._write(conversation.id, f"original/{folder}/{name}", raw)

    def turn_page(self, conversation: Conversation, state: PaneState, event: object) -> Opened | None:
        """A click in the source pane: another page of the PDF shown (``None``: nothing to do)."""
        data = event if isinstance(event, dict) else {}
        page = data.get("page")
        if data.get("action") != "page" or not isinstance(page, int) or isinstance(page, bool) or page < 1:
            return None
        turn = conversation.turn(state.turn)
        quote = turn.quote(state.quote) if turn is not None else None
        if turn is not None and quote is not None:
            return self._quoted(conversation, turn, state.quote, quote, page)
        if state.source:
            return self._document(conversation, state.source, page)
        return None

    # -- the conversations panel --------------------------------------------------------------

    def new_conversation(self, conversation: Conversation) -> tuple[Conversation, str, str | None, str]:
        """Start a new conversation (kept like the others); the page, export and list for it."""
        # An empty conversation is new already: no second empty one is made.
        if not conversation.view()[0]:
            return conversation, self.page(conversation)[0], None, self.conversations(conversation)
        owner = conversation.owner if isinstance(conversation, SavedConversation) else ""
        try:
            fresh = self.sessions.new(owner)
        except QAError as exc:
            self._warn(f"A new conversation cannot be saved now ({exc}); this one is not kept.")
            fresh = Conversation()
        return fresh, self.page(fresh)[0], None, self.conversations(fresh)

    def conversation_action(self, conversation: Conversation, event: object) -> tuple[Conversation, Any, Any, str]:
        """Open, rename or delete one of the person's conversations (from the sidebar's buttons).

        Returns:
            ``(the conversation now open, its HTML or KEEP, its export or KEEP, the list)``.

        """
        data = event if isinstance(event, dict) else {}
        if not isinstance(conversation, SavedConversation):
            return conversation, KEEP, KEEP, self.conversations(conversation)
        owner, target = conversation.owner, data.get("conversation")
        try:
            if data.get("action") == "open":
                opened = self.sessions.switch(owner, target)
                if opened is not None:
                    return opened, self.page(opened)[0], self.export(opened), self.conversations(opened)
            elif data.get("action") == "rename":
                self.sessions.rename(owner, target, data.get("title"))
            elif data.get("action") == "delete":
                self.sessions.delete(owner, target)
                if target == conversation.id:
                    return self.new_conversation(conversation)
        except QAError as exc:
            self._warn(str(exc))
        return conversation, KEEP, KEEP, self.conversations(conversation)

    # -- the documents panel ------------------------------------------------------------------

    def documents_html(self, search: str | None = "") -> str:
        """The documents of the corpus, narrowed by ``search``."""
        try:
            listing = self.documents.listing()
        except QAError as exc:
            return panels.message_html(f"The documents cannot be listed now: {exc}")
        return panels.documents_html(listing, search or "", changes=self.access.changes)

    def upload(self, files: Sequence[tuple[str, Path]], search: str | None = "") -> tuple[str, str]:
        """Add uploaded files: what became of each, and the documents now."""
        if not files:
            return "", KEEP  # type: ignore[return-value]
        try:
            done = self.documents.add(files)
        except QAError as exc:
            return panels.message_html(str(exc)), self.documents_html(search)
        said = panels.added_html(done.added, done.paragraphs, done.skipped)
        if done.error:
            said += panels.message_html(done.error)
        return said, self.documents_html(search)

    def document_action(
        self, conversation: Conversation, event: object, search: str | None = ""
    ) -> tuple[str, Any, Opened | None]:
        """Open a document in the source pane, or remove it (asked first, on the page).

        Returns:
            ``(a message, the documents or KEEP, the source pane's new content or None)``.

        """
        data = event if isinstance(event, dict) else {}
        source = data.get("source")
        if not isinstance(source, str):
            return "", KEEP, None
        if data.get("action") == "view":
            return "", KEEP, self._document(conversation, source, 1)
        if data.get("action") == "remove":
            try:
                said = self.documents.remove(source)
            except QAError as exc:
                return panels.message_html(str(exc)), self.documents_html(search), None
            return panels.message_html(said), self.documents_html(search), None
        return "", KEEP, None


def _owner(username: str | None, browser: str) -> str:
    """Whose conversations a page shows (see :func:`qa.web.sessions.owner_of`)."""
    return owner_of(username, browser)
