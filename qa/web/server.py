"""The web server: one ASGI application (FastAPI under uvicorn) with the chat mounted at ``/``.

Gradio's own ``launch()`` is not used: it checks that its page answers within seconds of
starting and fails on a busy machine. Here the address is bound first (a port in use is
an error at once), the model is warmed, and only then is the URL printed. Every page gets
a ``qa_browser`` cookie: a random id under which its conversations are kept (under
``--auth``, conversations belong to the signed-in user instead).
"""

from __future__ import annotations

import logging
import re
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from ..config import ServerSettings
from ..index import Index
from ..live import LiveIndex
from .access import Access
from .api import ApiAccess, ApiGate, add_api
from .app import build_app, close_app, mount
from .memory import MemoryTrim
from .sessions import BROWSER_COOKIE, browser_id
from .throttle import LoginThrottle

#: How long the browser keeps its id: a year.
_COOKIE_AGE = 365 * 24 * 3600

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _cookie_browser(cookie_header: str) -> str:
    """The browser id a ``Cookie`` header carries, or ``""`` if it carries none that is well formed."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:
        return ""
    return browser_id(jar[BROWSER_COOKIE].value) if BROWSER_COOKIE in jar else ""


#: Bytes per unit of a size as Gradio reads it (``64kb``, ``1mb``).
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def _size_bytes(size: str | None) -> int:
    """``64kb``, ``1 MB`` as bytes (0 for none, or for what is not such a size)."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", size or "")
    if match is None or match.group(2).lower() not in _UNITS:
        return 0
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


class BrowserCookie:
    """ASGI middleware: a response to a request without a browser id sets one."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add ``Set-Cookie`` to an HTTP response if the request had no id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if _cookie_browser(headers.get(b"cookie", b"").decode("latin-1")):
            await self.app(scope, receive, send)
            return
        cookie = (
            f"{BROWSER_COOKIE}={secrets.token_hex(16)}; Path=/; Max-Age={_COOKIE_AGE}; SameSite=Lax; HttpOnly"
        ).encode("latin-1")

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, with_cookie)


def create_app(
    index: LiveIndex | Index,
    *,
    server: ServerSettings = ServerSettings(),
    access: Access = Access(),
    auth: tuple[str, str] | None = None,
    ready: threading.Event | None = None,
) -> FastAPI:
    """The ASGI application: the JSON API under ``/api/v1``, and the chat at ``/`` (Gradio's ``/ask`` included).

    Args:
        index: The index served (a plain state is wrapped in a live index).
        server: Limits of the HTTP layer, the API's token and CORS origins.
        access: What people on the page may change (documents) and the upload limits.
        auth: ``(user, password)`` every visitor must give, or ``None``.
        ready: Set once the model is warm (``None``: ready now); until then the API says 503.

    """
    live = index if isinstance(index, LiveIndex) else LiveIndex(index.folder, index.corpus, index=index)
    if ready is None:
        ready = threading.Event()
        ready.set()
    # An index this process may not write is served as it is: the page adds and removes nothing.
    access = access.for_index(not live.folder.exists() or live.may_write())
    blocks = build_app(live, server, access)
    app = FastAPI(
        title="Citation QA",
        summary="Answers quoted verbatim from the articles, each with its citation.",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    add_api(app, live, ready=ready, concurrency=server.concurrency, access=ApiAccess(auth, server.token))
    if server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(server.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # An upload may send a body of the documents' size and a little more; the chat's events 1 MB.
    largest = int(access.limits.max_file_mb * 1024 * 1024) * max(1, access.limits.max_files) + 1024 * 1024
    # A larger $QA_MAX_UPLOAD is the operator's choice: the gate lets such an upload through to Gradio.
    largest = max(largest, _size_bytes(server.max_upload) + 1024 * 1024)
    app.add_middleware(ApiGate, access=ApiAccess(auth, server.token), upload_limit=largest)
    app.add_middleware(BrowserCookie)
    # Memory freed after a burst of requests goes back to the system (qa/web/memory.py).
    app.add_middleware(MemoryTrim)
    if auth is not None:
        # Sign-in attempts per address are limited (qa/web/throttle.py).
        app.add_middleware(LoginThrottle)
    app = mount(app, blocks, auth=auth, server=server, access=access)
    # Kept on the application, so that stopping it can remove what the chat wrote.
    app.state.qa_blocks = blocks
    app.state.qa_ready = ready
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, as a server binds it.

    Raises:
        OSError: The address cannot be bound (in use, not this machine's).

    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As servers do: an address in TIME_WAIT from a last run is free to take.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Running:
    """A server running in a background thread (for tests and embedding); :meth:`stop` ends it."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        """Serve ``app`` on the bound ``sock`` until :meth:`stop`."""
        self.app = app
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        # Started means the lifespan ran (Gradio's queue is up) and the socket is served.
        for _ in range(600):
            if self._server.started or not self._thread.is_alive():
                break
            self._thread.join(0.05)
        if not self._server.started:
            raise RuntimeError("the server did not start")

    def stop(self) -> None:
        """Stop serving and remove what the chat wrote (exports)."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()
        close_app(self.app.state.qa_blocks)


def start(
    index: LiveIndex | Index,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    server: ServerSettings = ServerSettings(),
    access: Access = Access(),
    auth: tuple[str, str] | None = None,
    ready: threading.Event | None = None,
) -> Running:
    """Serve the chat and the API in a background thread (port 0: any free port); returns once it answers."""
    sock = bind(host, port)
    try:
        return Running(create_app(index, server=server, access=access, auth=auth, ready=ready), sock)
    except BaseException:
        sock.close()
        raise


def serve(
    live: LiveIndex,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    server: ServerSettings = ServerSettings(),
    access: Access = Access(),
    say: Callable[[str], None] = print,
) -> None:
    """Bind, warm the model, print the URL, serve and watch the corpus; block until interrupted.

    Raises:
        OSError: The address cannot be bound (in use, not this machine's).

    """
    sock = bind(host, port)
    ready = threading.Event()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"

    stopping = threading.Event()
    guard = threading.Lock()

    def warm() -> None:
        # Served at once (/health says 503 meanwhile); the URL is printed once answers are quick.
        try:
            warm_up(live)
        except Exception as exc:
            log.exception("warming up the model failed")
            say(f"qa: error: the model could not be loaded ({exc}); /health says 503 until a restart")
            return
        # Nothing more once Ctrl+C came during the warm-up: the server is going away.
        with guard:
            if stopping.is_set():
                return
            ready.set()
            live.start()
        say(f"Serving the chat on {url} (Ctrl+C stops); the JSON API on {url}api/v1 (docs: {url}docs)")

    warming = threading.Thread(target=warm, name="qa-warm-up", daemon=True)
    try:
        app = create_app(live, server=server, access=access, auth=auth, ready=ready)
        warming.start()
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            close_app(app.state.qa_blocks)
    finally:
        with guard:
            stopping.set()
        # The model load is not interrupted: it ends before the interpreter does (no abort on exit).
        if warming.is_alive():
            warming.join(timeout=120)
        live.stop()
        sock.close()


def warm_up(live: LiveIndex) -> None:
    """Load the model and the question encoder before the URL is printed, so the first answer is quick."""
    index = live.current()
    if len(index):
        index.answer("warm up")
