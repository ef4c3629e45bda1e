"""Memory given back after a burst: when requests stop for a moment, the freed heap goes back to the system.

Answers computed at once each take memory (the model's activations, quote checks); it is
freed when they end, but the C allocator keeps freed pages for reuse, spread over the
threads that used them. A server that served 64 people at once would stay that large for
good. So once no request has started or ended for :data:`IDLE_SECONDS`, the allocator is
asked to return what it holds unused (glibc's ``malloc_trim``; elsewhere nothing is done).
An open chat page asks for its status every second, so requests may never stop that long:
then a pause of :data:`QUIET_SECONDS`, or a moment with no request in flight, is enough, at
most every :data:`GAP_SECONDS`.
Measured in ``benchmarks/burst.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

#: Seconds without a request starting or ending before freed memory is given back.
IDLE_SECONDS = 1.0
#: A shorter pause that is enough while pages keep asking ...
QUIET_SECONDS = 0.25
#: ... at most this often (a trim walks the whole heap: a few milliseconds).
GAP_SECONDS = 5.0
#: How often the idle time is looked at.
_TICK = 0.1


def _trimmer() -> Any:
    """Glibc's ``malloc_trim``, or ``None`` where the C library has none."""
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = library.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class _Keeper:
    """One thread per process that trims the heap once after each burst of activity."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0
        self._trimmed = 0.0
        self._pending = False
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._trim = _trimmer()
        #: Times the heap was trimmed (for tests).
        self.trims = 0

    def touch(self, change: int = 0) -> None:
        """Note activity now: a request started (``change`` 1) or ended (-1)."""
        with self._lock:
            self._last = time.monotonic()
            self._pending = True
            self._in_flight = max(0, self._in_flight + change)
            if self._thread is None and self._trim is not None:
                self._thread = threading.Thread(target=self._run, name="qa-memory-trim", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Trim once activity stops for :data:`IDLE_SECONDS`, or pauses while :data:`GAP_SECONDS` have passed."""
        while True:
            time.sleep(_TICK)
            now = time.monotonic()
            with self._lock:
                quiet = now - self._last
                # Many open pages leave no quarter-second pause: then a moment with no request in flight does.
                paused = quiet >= QUIET_SECONDS or self._in_flight == 0
                due = self._pending and (quiet >= IDLE_SECONDS or (paused and now - self._trimmed >= GAP_SECONDS))
                if due:
                    self._pending = False
                    self._trimmed = now
            if due:
                self._trim(0)
                self.trims += 1


#: The process's keeper.
KEEPER = _Keeper()


class MemoryTrim:
    """ASGI middleware: notes each request's start and end for :data:`KEEPER`."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, noting when it starts and ends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        KEEPER.touch(1)
        try:
            await self.app(scope, receive, send)
        finally:
            KEEPER.touch(-1)
