"""Conversations that outlive the page: kept in the conversation store, per browser or per signed-in user.

A :class:`SavedConversation` is a :class:`~qa.web.conversation.Conversation` whose every
change is written to the store (:mod:`qa.store.conversations`) and which takes in what
another tab or server process wrote. :class:`Sessions` finds a person's conversations:
the one they had open, the list for the sidebar, and opening, renaming and deleting them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ..errors import QAError
from ..eval.feedback import VoteValue
from ..store.conversations import ConversationStore, Summary
from .conversation import Conversation, Turn
from .saved import turn_from_json, turn_to_json

log = logging.getLogger(__name__)


#: The cookie that names a browser: 32 hex digits, set by the server on the first page it serves.
BROWSER_COOKIE = "qa_browser"
_BROWSER = re.compile(r"[0-9a-f]{32}")


def browser_id(value: object) -> str:
    """``value`` if it is a well-formed browser id, else ``""`` (a cookie is not trusted)."""
    return value if isinstance(value, str) and _BROWSER.fullmatch(value) else ""


def owner_of(username: str | None, browser: str) -> str:
    """Whose conversations a page shows: the signed-in user's, else its browser's (``""``: nobody's)."""
    if username:
        return f"user:{username}"
    return f"browser:{browser}" if browser else ""


class SavedConversation(Conversation):
    """A conversation kept in the store: changes are written through, others' changes read back.

    A failure of the store never loses the conversation on the page: from then on it goes
    on in memory only (numbered, answered and voted on here, as an unsaved conversation),
    and :attr:`problem` says what happened (shown once to the person).
    """

    def __init__(self, store: ConversationStore, owner: str, conversation_id: str) -> None:
        """Bind to the stored conversation ``conversation_id`` of ``owner`` (read on first view)."""
        super().__init__()
        self.store = store
        self.owner = owner
        self.id = conversation_id
        self.problem = ""
        # Set by a failure of the store: the conversation goes on in memory only.
        self.detached = False
        self._token = uuid.uuid4().hex
        self._stored = -1
        self._sync = threading.Lock()

    def __deepcopy__(self, memo: dict[int, object]) -> SavedConversation:
        """The same binding, read afresh (Gradio copies state values)."""
        return SavedConversation(self.store, self.owner, self.id)

    def _failed(self, what: str, exc: QAError) -> None:
        """Note a store failure; the conversation goes on in memory only from now on."""
        log.warning("conversation %s: %s: %s", self.id, what, exc)
        # Its turns are numbered here from now: mixing them with the store's would reuse ids.
        self.detached = True
        self.problem = f"This conversation could not be saved ({exc}); it goes on in this page only."

    def _refresh(self) -> None:
        """Read the stored conversation again if another session changed it since."""
        with self._sync:
            if self.detached:
                return
            try:
                version = self.store.version(self.owner, self.id)
                if version is None or version == self._stored:
                    return
                saved = self.store.load(self.owner, self.id)
            except QAError as exc:
                self._failed("reading", exc)
                return
            if saved is None:
                return
            turns: list[Turn] = []
            for turn_id, text in saved.turns:
                try:
                    turns.append(turn_from_json(text))
                except ValueError as exc:
                    log.warning("conversation %s: turn %d not read back: %s", self.id, turn_id, exc)
            with self._lock:
                # Turns still being answered here keep their place until their answer is written.
                answering = {t.id: t for t in self._turns if t.id in self._answering}
                self._turns = [answering.get(t.id, t) for t in turns]
                self._votes = {key: vote for key, vote in saved.votes.items() if vote in ("up", "down")}  # type: ignore[misc]
                self._next = max(self._next, saved.next_turn)
                self.version += 1
            self._stored = saved.version

    def _added(self, make: Callable[[int], Turn]) -> Turn | None:
        """Number and keep the turn in the store (in memory if the store fails)."""
        if self.detached:
            return None
        made: list[Turn] = []

        def data(turn_id: int) -> str:
            made.append(make(turn_id))
            return turn_to_json(made[-1])

        try:
            # A conversation is titled by its first question (the store keeps a title once set).
            self.store.add_turn(self.owner, self.id, data, title=make(0).question)
        except QAError as exc:
            self._failed("saving a question", exc)
            return None
        return made[-1] if made else None

    def _answered(self, turn: Turn) -> None:
        """Write the answer over the pending turn."""
        if self.detached:
            return
        try:
            self.store.put_turn(self.owner, self.id, turn.id, turn_to_json(turn))
        except QAError as exc:
            self._failed("saving an answer", exc)

    def _voted(self, turn_id: int, key: str, vote: VoteValue | None) -> None:
        """Keep the vote (or take it back)."""
        if self.detached:
            return
        try:
            self.store.set_vote(self.owner, self.id, turn_id, key, vote)
        except QAError as exc:
            self._failed("saving a vote", exc)

    def _claim(self, turn_id: int) -> bool:
        """Whether this session may answer the turn: nobody else is answering it, and nobody answered it yet."""
        if self.detached:
            return True
        try:
            if not self.store.claim(self.owner, self.id, turn_id, self._token, now=time.time()):
                if self.store.version(self.owner, self.id) is not None:
                    return False
                # Deleted in another tab meanwhile: the question is answered here, in this page only.
                self.detached = True
                self.problem = "This conversation was deleted in another tab; it goes on in this page only."
                return True
            # Another tab may have answered it while this one still showed it pending.
            saved = self.store.load(self.owner, self.id)
            stored = dict(saved.turns).get(turn_id) if saved is not None else None
            if stored is not None and _pending(stored):
                return True
            self.store.release(self.owner, self.id, turn_id, self._token)
        except QAError as exc:
            self._failed("claiming a question", exc)
            return True
        # Its answer (or its removal) comes in with the next read of the store.
        self._stored = -1
        return False

    def _release(self, turn_id: int) -> None:
        """Let the turn go (answered or failed)."""
        if self.detached:
            return
        try:
            self.store.release(self.owner, self.id, turn_id, self._token)
        except QAError as exc:
            self._failed("releasing a question", exc)


def _pending(text: str) -> bool:
    """Whether a stored turn still waits for its answer (one that cannot be read does not)."""
    try:
        return turn_from_json(text).pending
    except ValueError:
        return False


class Sessions:
    """A person's saved conversations: which is open, the list, and changes to it."""

    def __init__(self, folder: Path) -> None:
        """Keep conversations in the store of the index folder ``folder``."""
        self.store = ConversationStore(folder)

    def open(self, owner: str) -> Conversation:
        """The conversation ``owner`` had open (a new one if none); an unsaved one for nobody."""
        if not owner:
            return Conversation()
        conversation_id = self.store.open_of(owner)
        if conversation_id is None or self.store.load(owner, conversation_id) is None:
            return self.new(owner)
        return SavedConversation(self.store, owner, conversation_id)

    def new(self, owner: str) -> Conversation:
        """A new, empty conversation, now the open one."""
        if not owner:
            return Conversation()
        conversation_id = self.store.create(owner)
        self.store.set_open(owner, conversation_id)
        return SavedConversation(self.store, owner, conversation_id)

    def switch(self, owner: str, conversation_id: object) -> Conversation | None:
        """Open an earlier conversation of ``owner`` (``None``: it is not theirs or is gone)."""
        if not owner or not isinstance(conversation_id, str):
            return None
        if self.store.load(owner, conversation_id) is None:
            return None
        self.store.set_open(owner, conversation_id)
        return SavedConversation(self.store, owner, conversation_id)

    def summaries(self, owner: str) -> list[Summary]:
        """``owner``'s conversations, the latest first."""
        return self.store.summaries(owner) if owner else []

    def rename(self, owner: str, conversation_id: object, title: object) -> None:
        """Give a conversation a title of the person's own.

        Raises:
            QueryError: No such conversation of theirs, or an empty title.

        """
        self.store.rename(owner, str(conversation_id), str(title) if isinstance(title, str) else "")

    def delete(self, owner: str, conversation_id: object) -> None:
        """Delete a conversation of ``owner`` (its turns and votes)."""
        self.store.delete(owner, str(conversation_id))
