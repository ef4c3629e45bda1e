"""Sign-in attempts are limited per address: a wrong password cannot be tried at network speed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from conftest import serving

import qa
from qa.web.throttle import LoginThrottle


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _login(throttle: LoginThrottle, address: str, status: int) -> int:
    """One POST /login through ``throttle`` to an app answering ``status``; the status the client got."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    throttle.app = app
    got: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            got.append(message["status"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/login", "client": (address, 1234), "headers": []}
    asyncio.run(throttle(scope, receive, send))
    return got[0]


def test_failures_lock_out_one_address_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(lambda *a: None, failures=3, window=60.0, clock=clock)  # type: ignore[arg-type,return-value]
    assert [_login(throttle, "10.0.0.1", 400) for _ in range(3)] == [400, 400, 400]
    # The fourth attempt is refused before it reaches the app, even with the right password.
    assert _login(throttle, "10.0.0.1", 200) == 429
    # Another address is not concerned.
    assert _login(throttle, "10.0.0.2", 400) == 400
    clock.now += 61
    assert _login(throttle, "10.0.0.1", 200) == 200
    # A success clears the count.
    assert [_login(throttle, "10.0.0.1", 400) for _ in range(2)] == [400, 400]
    assert _login(throttle, "10.0.0.1", 200) == 200
    assert [_login(throttle, "10.0.0.1", 400) for _ in range(3)] == [400, 400, 400]
    assert _login(throttle, "10.0.0.1", 400) == 429


def test_a_served_login_answers_429_with_retry_after_after_ten_failures(seeds_index: qa.Index) -> None:
    with serving(seeds_index, auth=("reader", "s3cret")) as base, httpx.Client() as session:
        wrong = [
            session.post(f"{base}/login", data={"username": "reader", "password": f"guess{n}"}).status_code
            for n in range(10)
        ]
        assert all(400 <= status < 500 and status != 429 for status in wrong)
        refused = session.post(f"{base}/login", data={"username": "reader", "password": "s3cret"})
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 61
        assert "too many failed sign-ins" in refused.json()["error"]
