"""The JSON API beside the chat: ``/api/v1/answer``, ``/search``, ``/documents``, ``/status`` and ``/health``.

Answers are computed in a thread pool of ``$QA_CONCURRENCY`` threads, off the event loop
and outside Gradio's queue. Bad input is a JSON error with an HTTP status: 400 with the
message of the Python validation layer, 422 for a body of the wrong shape, 401 without
credentials where the server asks for them (HTTP Basic with the ``--auth`` pair, or the
``--token`` as a bearer token), 413 for a body over :data:`MAX_BODY`, 503 until the model
is warm. No traceback is ever sent.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..answer.compose import Answer
from ..config import MAX_ANSWER_K
from ..errors import (
    IndexAccessError,
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    QAError,
    QueryError,
    SettingsError,
)
from ..index import Index
from ..live import LiveIndex
from .schema import AnswerOut, AskIn, DocumentsOut, ErrorOut, HealthOut, HitOut, SearchIn, SearchOut, StatusOut

log = logging.getLogger(__name__)

#: Largest request body the API reads (a question of 2,000 characters and its filters fit many times over).
MAX_BODY = 256 * 1024

#: Requests waiting for an answer thread before new ones get 503.
WAITING = 256

#: Where the API lives.
PREFIX = "/api/v1"
#: Largest body of a request to the chat's events and sign-in (a question and a few settings).
EVENT_BODY = 1024 * 1024
#: Characters of a question echoed in a reply to a request that could not be answered.
ECHOED = 80


@dataclass(frozen=True)
class ApiAccess:
    """Who may call the API: anyone, or callers with the ``--auth`` pair (HTTP Basic) or the bearer token."""

    auth: tuple[str, str] | None = None
    token: str | None = None

    @property
    def open(self) -> bool:
        """Whether no credentials are asked for."""
        return self.auth is None and not self.token

    def allows(self, header: str) -> bool:
        """Whether an ``Authorization`` header carries the right credentials."""
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token:
            return secrets.compare_digest(value.encode(), self.token.encode())
        if scheme.lower() == "basic" and self.auth is not None:
            try:
                user, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            # Both compared, whatever the first gives: no timing tells which was wrong.
            same_user = secrets.compare_digest(user.encode(), self.auth[0].encode())
            same_password = secrets.compare_digest(password.encode(), self.auth[1].encode())
            return bool(colon) and same_user and same_password
        return False


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ApiGate:
    """ASGI middleware in front of everything: credentials and body size, checked before a body is read.

    For the API (``/api/v1``): a caller without the credentials :class:`ApiAccess` asks for gets
    401, a body over ``api_limit`` 413 (declared, or counted as it comes, then handed on whole).
    Elsewhere a declared body over the route's limit gets 413 at once, and one sent without a
    length is cut off there: ``upload_limit`` for file uploads (Gradio's ``/upload``: documents
    added from the page), ``other_limit`` for everything else (the chat's events, sign-in),
    whose bodies are a question and a few settings.
    """

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        access: ApiAccess = ApiAccess(),
        api_limit: int = MAX_BODY,
        upload_limit: int = 16 * 1024 * 1024,
        other_limit: int = EVENT_BODY,
    ) -> None:
        """Wrap ``app``."""
        self.app = app
        self.access = access
        self.api_limit = api_limit
        self.upload_limit = upload_limit
        self.other_limit = other_limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        """Let the request through, or answer 401 or 413 without reading its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared_text = headers.get(b"content-length", b"").decode("latin-1")
        declared = int(declared_text) if declared_text.isdigit() else None
        path = scope.get("path", "")
        if not path.startswith(PREFIX):
            limit = self.upload_limit if path.rstrip("/").endswith("/upload") else self.other_limit
            if declared is not None and declared > limit:
                await _error(413, f"the request body is over the {limit // 1024} KB this server reads")(
                    scope, receive, send
                )
                return
            await self.app(scope, _capped(receive, limit), send)
            return
        if not self.access.open and not self.access.allows(headers.get(b"authorization", b"").decode("latin-1")):
            await _error(401, UNAUTHORISED, {"WWW-Authenticate": CHALLENGE})(scope, receive, send)
            return
        too_large = _error(413, f"the request body is over the {self.api_limit // 1024} KB this API reads")
        if declared is not None and declared > self.api_limit:
            await too_large(scope, receive, send)
            return
        # Read whole (it is small) before the app sees it: a body without a length is counted as it comes.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(bytes(body), receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.api_limit:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


#: What a caller without credentials is told, and how they may give them.
UNAUTHORISED = "credentials required: HTTP Basic (--auth) or a bearer token (--token)"
CHALLENGE = 'Basic realm="qa", Bearer'


def _capped(receive: Callable[[], Awaitable[Any]], limit: int) -> Callable[[], Awaitable[Any]]:
    """A ``receive`` that ends the request (as a client gone) once more than ``limit`` bytes came."""
    seen = 0

    async def capped() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return capped


def _replay(body: bytes, receive: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    """A ``receive`` that gives ``body`` in one message, then what the client sends (a disconnect)."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def add_api(
    app: FastAPI,
    live: LiveIndex,
    *,
    ready: threading.Event,
    concurrency: int,
    access: ApiAccess = ApiAccess(),
) -> None:
    """Add the JSON API to ``app`` (before the chat is mounted at ``/``)."""
    limiter = anyio.CapacityLimiter(concurrency)

    async def in_pool(request: Request, work: Callable[[], Any]) -> Any:
        """Run ``work`` in the answer threads: the event loop stays free for other requests."""
        # A full waiting line is said at once; a caller gone while waiting costs no answer.
        if limiter.statistics().tasks_waiting >= WAITING:
            raise HTTPException(503, "too many requests are waiting: try again in a moment")
        async with limiter:
            if await request.is_disconnected():
                raise HTTPException(499, "the caller went away")
            return await anyio.to_thread.run_sync(work)

    def checked(request: Request) -> Index:
        """The state to answer from, once the server is ready (credentials were checked on the way in)."""
        if not ready.is_set():
            raise HTTPException(503, "the server is starting: the model is loading")
        return live.current()

    router = APIRouter(prefix=PREFIX, responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}})

    @router.post("/answer", response_model=AnswerOut, summary="Answer a question with verbatim quotes")
    async def answer(body: AskIn, request: Request, index: Index = Depends(checked)) -> dict[str, Any]:
        """The answer, exactly as ``qa ask --json`` prints it (``Answer.to_dict()``)."""
        _check_k(body.k)
        try:
            result = await in_pool(
                request, lambda: index.answer(body.question, body.k, sources=body.sources, history=tuple(body.history))
            )
        except (IndexCorruptError, IndexAccessError) as exc:
            # The answer's own shape, so that a caller reads every reply the same way.
            message = _public(exc)
            unanswered = Answer(body.question[:ECHOED], False, (), message).to_dict()
            return JSONResponse({**unanswered, "searched": "", "error": message}, status_code=503)  # type: ignore[return-value]
        return result.to_dict()  # type: ignore[no-any-return]

    @router.post("/search", response_model=SearchOut, summary="The passages that best match a question")
    async def search(body: SearchIn, request: Request, index: Index = Depends(checked)) -> SearchOut:
        """Ranked passages with their citations and scores (no relevance cut, no abstention)."""
        _check_k(body.k)
        hits = await in_pool(request, lambda: index.search(body.question, body.k, sources=body.sources))
        return SearchOut(question=body.question, hits=[HitOut.of(hit) for hit in hits])

    @router.get("/documents", response_model=DocumentsOut, summary="What the index holds and what it skipped")
    async def documents(request: Request, index: Index = Depends(checked)) -> DocumentsOut:
        """Every file the index records, with its reason where it was skipped."""
        listed = await in_pool(request, index.documents)
        indexed = sum(document.skipped is None for document in listed)
        return DocumentsOut(indexed=indexed, skipped=len(listed) - indexed, documents=listed)

    @router.get("/status", response_model=StatusOut, summary="What the live index is doing")
    async def status(_: Index = Depends(checked)) -> StatusOut:
        """The live index's status: ready, updating (with progress) or failed (with the error)."""
        now = live.status()
        return StatusOut(status=now, line=now.describe())

    app.include_router(router)

    @app.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}}, summary="Ready or not")
    async def health() -> JSONResponse:
        """200 once the model is warm and the index open; 503 before."""
        return JSONResponse({"ready": ready.is_set()}, status_code=200 if ready.is_set() else 503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = {"WWW-Authenticate": CHALLENGE} if exc.status_code == 401 else None
        return _error(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def bad_shape(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The first problem in words, with where it is; the rest as FastAPI lists them.
        problems = exc.errors()
        first = problems[0] if problems else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'malformed request')}" if where else str(first.get("msg", "malformed"))
        return JSONResponse(
            {"error": message, "detail": [{"loc": p.get("loc"), "msg": p.get("msg")} for p in problems]},
            status_code=422,
        )

    @app.exception_handler(QAError)
    async def refused(request: Request, exc: QAError) -> JSONResponse:
        if isinstance(exc, (QueryError, SettingsError)):
            return _error(400, str(exc))
        if isinstance(exc, (IndexBusyError, IndexNotFoundError)):
            return _error(503, str(exc))
        if isinstance(exc, (IndexCorruptError, IndexAccessError)):
            # Damage is logged once where it is met (with the server's paths); the caller gets the part.
            return _error(503, _public(exc))
        log.warning("API request failed: %s", exc)
        return _error(500, f"the index could not answer ({type(exc).__name__}); see the server's log")

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request failed")
        return _error(500, "the server failed to answer this request; see its log")


def _public(exc: IndexCorruptError | IndexAccessError) -> str:
    """What a remote caller is told of a damaged or unreadable index: the part and what to run, no paths."""
    if isinstance(exc, IndexCorruptError):
        return f"the index is damaged (its {exc.part}); run `qa index --check` on the server to repair it"
    return "the index cannot be read right now; try again"


def _check_k(k: int | None) -> None:
    """The HTTP edge's own limit on ``k`` (the Python API takes larger ones)."""
    if k is not None and not 1 <= k <= MAX_ANSWER_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_ANSWER_K}, got {k}")
