"""What the chat's events give back to the page, beside HTML: parts left as they are, choices, pane state."""

from __future__ import annotations

from dataclasses import dataclass

from .conversation import Notice


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

    stale: tuple[tuple[tuple[int, str], Notice], ...] = ()
    version: int = -1
    choices: tuple[str, ...] = ()
    documents: tuple[str, int, str] = ("", -1, "")


@dataclass(frozen=True)
class PaneState:
    """What the source pane shows: a quote of a turn, or a document opened from the list, and the page."""

    turn: int = -1
    quote: str = ""
    source: str = ""
    page: int = 0


@dataclass(frozen=True)
class Opened:
    """The source pane's new content: its HTML, its state, and the file offered for download."""

    html: str
    state: PaneState
    download: str | None
