"""Extractions kept in memory, so that a file read again unchanged is not parsed again."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .base import Extracted

#: The key of one extraction: the file name, the hash of its bytes and the size limit it was read under.
Key = tuple[str, str, float]

#: Extractions kept, the most recently used ...
CACHE_SIZE = 64
#: ... as long as all of them together weigh no more than this many characters (see :func:`weight`).
CACHE_CHARACTERS = 32_000_000
#: What one paragraph or run weighs, in characters (about what it takes in memory).
ITEM_WEIGHT = 150


def weight(extracted: Extracted) -> int:
    """What an extraction weighs in a cache: its characters, and its paragraphs and runs."""
    return len(extracted.text) + len(extracted.title) + ITEM_WEIGHT * (len(extracted.blocks) + len(extracted.runs))


class ExtractionCache:
    """The least recently used extractions go while over ``size`` of them or ``characters`` of weight.

    Safe to share between threads.
    """

    def __init__(self, size: int = CACHE_SIZE, characters: int = CACHE_CHARACTERS) -> None:
        """An empty cache of at most ``size`` extractions weighing ``characters`` in all."""
        self.size = size
        self.characters = characters
        self._items: OrderedDict[Key, tuple[Extracted, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Key) -> Extracted | None:
        """The extraction kept under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Key, extracted: Extracted) -> None:
        """Keep ``extracted``; one that alone outweighs the cache is not kept and pushes nothing out."""
        heavy = weight(extracted)
        with self._lock:
            if key in self._items:
                self._weight -= self._items.pop(key)[1]
            if heavy > self.characters:
                return
            self._items[key] = (extracted, heavy)
            self._weight += heavy
            while len(self._items) > self.size or self._weight > self.characters:
                self._weight -= self._items.popitem(last=False)[1][1]

    def kept(self) -> list[Key]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._items)

    @property
    def held(self) -> int:
        """What the extractions kept weigh together."""
        with self._lock:
            return self._weight
