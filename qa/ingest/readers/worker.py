"""The reader worker: reads jobs from its parent on a pipe, runs each under its limits, sends the result back.

Started by :mod:`.sandbox` with ``IN OUT``, where ``IN`` and ``OUT`` are the
descriptors of its pipes. A job is ``(operation, arguments, seconds, memory_bytes)``; the
answer is ``("ok", value)`` or ``("error", kind, message)``. Before each job the worker
lowers its own limits: processor time to what it has used plus ``seconds`` (the system
ends it with SIGXCPU past that) and address space to what it holds plus ``memory_bytes``
(an allocation past that fails: MemoryError, reported as such). The parent kills it past
its wall time. It ends when its parent closes the pipe.
"""

from __future__ import annotations

import math
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

#: Answer kinds: the file cannot be read; a page cannot be drawn; the job needed too much memory.
UNREADABLE, UNDRAWABLE, MEMORY = "unreadable", "undrawable", "memory"
#: The worker's first word: it has started.
READY = "ready"


def _read(source: str, raw: bytes, limit_mb: float) -> Any:
    """What the reader of ``source`` extracts from ``raw``, within the bounds of :mod:`.bounds`."""
    from .base import UnreadableError
    from .bounds import bounded
    from .registry import reader_for

    reader = reader_for(source)
    if reader is None:
        raise UnreadableError("not a kind of file that is read")
    return bounded(reader.read(raw, source, limit_mb=limit_mb), limit_mb)


def _view(raw: bytes, runs: Any, marks: Any, page: int) -> Any:
    """A PDF's page count and one page drawn (see :func:`qa.ingest.readers.pdfpage.page_view`)."""
    from .pdfpage import page_view

    return page_view(raw, runs, marks, page)


#: What a job may ask for.
OPERATIONS: dict[str, Callable[..., Any]] = {"read": _read, "view": _view}


def _virtual_size() -> int:
    """The worker's address space now, in bytes (Linux ``/proc``; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _limit(seconds: float, memory_bytes: int) -> None:
    """Lower this process's processor time and address space to what it has used plus the job's share."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu if hard == resource.RLIM_INFINITY else min(cpu, hard), hard))
    size = _virtual_size()
    if size and memory_bytes > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = size + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def _unlimit() -> None:
    """Lift the address-space limit between jobs (the next job sets its own)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def run(operation: str, arguments: tuple[Any, ...]) -> tuple[Any, ...]:
    """Do one job and say how it went: ``("ok", value)`` or ``("error", kind, message)``."""
    from .base import UnreadableError

    try:
        return ("ok", OPERATIONS[operation](*arguments))
    except MemoryError:
        return ("error", MEMORY, "")
    except UnreadableError as exc:
        return ("error", UNREADABLE, str(exc))
    except ValueError as exc:
        return ("error", UNDRAWABLE, str(exc))


def serve(inbox: Connection, outbox: Connection) -> None:
    """Answer jobs until the parent closes the pipe."""
    # A worker ended for its processor time leaves no core file behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Ctrl+C is for the process that started it (it ends the worker by closing the pipe).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox.send(READY)
    while True:
        try:
            operation, arguments, seconds, memory_bytes = inbox.recv()
        except (EOFError, OSError):
            return
        try:
            _limit(seconds, memory_bytes)
            answer = run(operation, arguments)
        finally:
            _unlimit()
        try:
            outbox.send(answer)
        except MemoryError:
            outbox.send(("error", MEMORY, ""))
        if answer[:2] == ("error", MEMORY):
            # A heap that ran out may be left in pieces: a fresh worker takes the next job.
            return


def main(argv: list[str]) -> None:
    """Serve on the descriptors named in ``argv``."""
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))
