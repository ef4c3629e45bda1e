"""Sign-in attempts limited per client: a password cannot be guessed at the speed of the network.

Gradio's ``/login`` answers every attempt at once (50 wrong passwords took 1.2 s). After
:data:`FAILURES` failed attempts from one address within :data:`WINDOW` seconds, further
attempts from it get 429 with ``Retry-After`` until the oldest failure leaves the window;
a successful sign-in clears the address's count. The counts live in this process (one
event loop: no lock needed), at most :data:`ADDRESSES` addresses of them.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse

#: Failed sign-ins from one address allowed within :data:`WINDOW` seconds.
FAILURES = 10
#: Seconds a failed sign-in counts.
WINDOW = 60.0
#: Addresses remembered at most (the least recently seen are forgotten first).
ADDRESSES = 10_000


class LoginThrottle:
    """ASGI middleware: 429 for an address with too many recent failed ``POST …/login`` attempts."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        failures: int = FAILURES,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wrap ``app``."""
        self.app = app
        self.failures = failures
        self.window = window
        self.clock = clock
        self._failed: OrderedDict[str, deque[float]] = OrderedDict()

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        """Refuse an address over its limit; otherwise pass the attempt on and count how it ended."""
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").endswith("/login"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "?"
        wait = self._wait(address)
        if wait > 0:
            seconds = int(wait) + 1
            response = JSONResponse(
                {"error": f"too many failed sign-ins from this address; try again in {seconds} s"},
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )
            await response(scope, receive, send)
            return
        status: list[int] = []

        async def noted(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 0)))
            await send(message)

        await self.app(scope, receive, noted)
        if status and status[0] >= 400:
            self._fail(address)
        elif status and status[0] < 300:
            self._failed.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        """The address's failures still inside the window (older ones dropped)."""
        failed = self._failed.get(address)
        if failed is None:
            return deque()
        horizon = self.clock() - self.window
        while failed and failed[0] <= horizon:
            failed.popleft()
        if not failed:
            del self._failed[address]
        return failed

    def _wait(self, address: str) -> float:
        """Seconds until the address may try again (0: now)."""
        failed = self._recent(address)
        if len(failed) < self.failures:
            return 0.0
        return failed[-self.failures] + self.window - self.clock()

    def _fail(self, address: str) -> None:
        """Count one failed attempt of ``address``."""
        failed = self._failed.setdefault(address, deque())
        failed.append(self.clock())
        self._failed.move_to_end(address)
        while len(self._failed) > ADDRESSES:
            self._failed.popitem(last=False)
