"""Readers in a sandbox: every file is read, and every PDF page drawn, in a worker process with limits.

A hostile or broken file (a PDF whose form objects draw each other a million times, a reader
that aborts) costs one worker, never the process that indexes or serves: a worker is killed
past its wall time, ends past its processor time or fails past its memory, and the file is
skipped with the reason. Workers are started when first needed and reused while healthy.
"""

from __future__ import annotations

import atexit
import contextlib
import decimal
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ...config import SandboxLimits, read_environment
from . import worker as protocol
from .base import UnreadableError

log = logging.getLogger(__name__)

#: Idle workers kept for the next file (more are started while several threads read at once).
IDLE_WORKERS = 2
#: Workers reading at once in one process, at most (other readers wait for one).
MOST_WORKERS = max(2, os.cpu_count() or 1)
#: Seconds before starting a worker is tried again, after it could not be started.
RETRY_START_SECONDS = 60.0
#: Seconds a worker is given to start and answer its first job beyond the job's own time.
START_SECONDS = 30.0


def limits_from_environment(environ: Mapping[str, str] | None = None) -> SandboxLimits:
    """``$QA_READ_SECONDS`` and ``$QA_READ_MEMORY_MB`` where set, else the defaults (30 s, 1024 MB).

    Raises:
        SettingsError: One is set but is not a positive number.

    """
    return read_environment(environ).read_limits


#: What a worker runs: ``python -c`` puts the working folder first on the path, so it is
#: replaced by the folder this package is in (a ``qa/`` there must not be run instead).
_ROOT = str(Path(__file__).resolve().parents[3])
_START = f"import sys; sys.path[0] = {_ROOT!r}; from qa.ingest.readers.worker import main; main(sys.argv[1:])"


#: How a reason given for a limit names it: seconds or megabytes, then the variable to raise.
_LIMIT_REASON = re.compile(
    r"(?P<value>[\d.]+) (?P<unit>s|MB)\b.*raise (?P<name>QA_READ_SECONDS|QA_READ_MEMORY_MB) to index it"
)


def over_a_raised_limit(reason: str | None, limits: SandboxLimits) -> bool:
    """Whether a file skipped for ``reason`` was stopped by a reader limit that is higher now (so it is read again)."""
    match = _LIMIT_REASON.search(reason or "")
    if match is None:
        return False
    now = limits.seconds if match.group("name") == "QA_READ_SECONDS" else limits.memory_mb
    try:
        return now > float(match.group("value"))
    except ValueError:
        return False


class _Worker:
    """One worker process and the two ends of its pipes."""

    def __init__(self) -> None:
        """Start a worker: this interpreter, this package first on its path (never the working folder's files).

        Raises:
            OSError: No process can be started (the pipes made for it are closed again).

        """
        job_read, job_write = os.pipe()
        answer_read, answer_write = os.pipe()
        environment = dict(os.environ)
        # One thread is all a reader needs; libraries that spin thread pools are told so.
        environment["OMP_NUM_THREADS"] = "1"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _START, str(job_read), str(answer_write)],
                pass_fds=(job_read, answer_write),
                stdin=subprocess.DEVNULL,
                env=environment,
            )
        except BaseException:
            os.close(job_write)
            os.close(answer_read)
            raise
        finally:
            os.close(job_read)
            os.close(answer_write)
        self.jobs = Connection(job_write, readable=False)
        self.answers = Connection(answer_read, writable=False)

    def ready(self) -> bool:
        """Wait for the worker's first word (it has started and lowered nothing yet): ``False`` if it never came."""
        try:
            return bool(self.answers.poll(START_SECONDS)) and self.answers.recv() == protocol.READY
        except (EOFError, OSError):
            return False

    def ask(self, job: tuple[Any, ...], wall_seconds: float) -> tuple[Any, ...] | str:
        """Send ``job`` and wait up to ``wall_seconds`` for the answer; else ``"late"`` or ``"gone"``."""
        try:
            self.jobs.send(job)
            if not self.answers.poll(wall_seconds):
                return "late"
            answer: tuple[Any, ...] = self.answers.recv()
            return answer
        except (EOFError, OSError):
            return "gone"

    def exit_code(self) -> int | None:
        """How the worker ended (negative: by that signal), waiting briefly for it; ``None`` if it is still running."""
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """End the worker at once and collect it."""
        with contextlib.suppress(OSError):
            self.process.kill()
        self.close()

    def close(self) -> None:
        """Close the pipes (an idle worker then ends by itself) and collect the process if it is gone."""
        for connection in (self.jobs, self.answers):
            with contextlib.suppress(OSError):
                connection.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _signal_name(number: int) -> str:
    """``SIGSEGV`` for 11, and so on."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _number(value: float) -> str:
    """A limit as written in a reason, exactly and without an exponent (``30``, ``2.5``, ``1073741824``).

    A reason is read back (:func:`over_a_raised_limit`): a rounded figure would make a file
    skipped under the limit look skipped under a lower one, and be read again every round.
    """
    return format(decimal.Decimal(repr(float(value))), "f").removesuffix(".0")


def _seconds(value: float) -> str:
    """A time limit as written in a reason: ``30 s``, ``2.5 s``."""
    return f"{_number(value)} s"


class ReaderPool:
    """Reader workers shared by every thread of a process; safe to use from several threads at once."""

    def __init__(
        self, limits: SandboxLimits | None = None, *, idle: int = IDLE_WORKERS, most: int = MOST_WORKERS
    ) -> None:
        """A pool with no worker yet (``limits``: ``None`` reads the environment at each job)."""
        self.limits = limits
        self.idle = idle
        self._free: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(most)
        #: Workers started so far (for tests and benchmarks).
        self.started = 0
        self._warned = False
        self._unstartable_until = 0.0

    def current_limits(self) -> SandboxLimits:
        """The limits a job runs under now."""
        return self.limits if self.limits is not None else limits_from_environment()

    def read(self, source: str, raw: bytes, limit_mb: float) -> Any:
        """What the reader of ``source`` extracts from ``raw``, read in a worker.

        Raises:
            UnreadableError: The file cannot be read, or it took more time or memory than
                allowed, or its reader crashed; the message says which.

        """
        limits = self.current_limits()
        answer = self._run("read", (source, raw, limit_mb), limits)
        if answer[0] == "ok":
            return answer[1]
        raise UnreadableError(self._reason(answer, limits, "read"))

    def page_view(self, raw: bytes, runs: Any, marks: Any, page: int) -> tuple[int, Any]:
        """A PDF's page count and its page ``page`` drawn, in a worker (see :func:`.pdfpage.page_view`).

        Raises:
            ValueError: The page cannot be drawn, or drawing it took too long or too much memory.

        """
        count, pages = self._draw("view", (raw, runs, marks, page))
        return int(count), pages

    def _draw(self, operation: str, arguments: tuple[Any, ...]) -> Any:
        """Run a page job; any failure is a ValueError with the reason."""
        limits = self.current_limits()
        answer = self._run(operation, arguments, limits)
        if answer[0] == "ok":
            return answer[1]
        raise ValueError(self._reason(answer, limits, "draw"))

    @staticmethod
    def _reason(answer: tuple[Any, ...], limits: SandboxLimits, verb: str) -> str:
        """The message of a failed job."""
        kind, message = answer[1], answer[2]
        if kind in (protocol.UNREADABLE, protocol.UNDRAWABLE):
            return str(message)
        if kind == protocol.MEMORY:
            return (
                f"needed more than {_number(limits.memory_mb)} MB of memory to {verb};"
                " raise QA_READ_MEMORY_MB to index it"
            )
        if kind == "time":
            return f"took longer than {_seconds(limits.seconds)} to {verb}; raise QA_READ_SECONDS to index it"
        if kind == "signal" and message == signal.SIGXCPU:
            return (
                f"took more than {_seconds(limits.seconds)} of processor time to {verb};"
                " raise QA_READ_SECONDS to index it"
            )
        if kind == "signal" and message in (signal.SIGABRT, signal.SIGKILL):
            # PDFium aborts when an allocation past the memory limit fails; the kernel kills when memory runs out.
            return (
                f"the reader stopped ({_signal_name(message)}) on this file, most likely out of the"
                f" {_number(limits.memory_mb)} MB of memory allowed; raise QA_READ_MEMORY_MB to index it"
            )
        if kind == "signal":
            return f"the reader crashed ({_signal_name(message)}) on this file"
        return "the reader stopped without an answer on this file"

    def _run(self, operation: str, arguments: tuple[Any, ...], limits: SandboxLimits) -> tuple[Any, ...]:
        """Run one job in a worker; a worker that fails the job is not used again."""
        job = (operation, arguments, limits.seconds, int(limits.memory_mb * 2**20))
        with self._slots:
            if time.monotonic() < self._unstartable_until:
                return self._unsandboxed(operation, arguments, None)
            try:
                worker = self._take()
            except OSError as exc:
                with self._lock:
                    # Not tried again for every file: a minute later.
                    self._unstartable_until = time.monotonic() + RETRY_START_SECONDS
                return self._unsandboxed(operation, arguments, exc)
            try:
                answer = worker.ask(job, limits.seconds)
            except BaseException:
                # Whatever went wrong (an interrupt, a job that cannot be sent), the worker is not reused.
                worker.kill()
                raise
            if answer == "late":
                worker.kill()
                return ("error", "time", None)
            if answer == "gone" or not isinstance(answer, tuple):
                code = worker.exit_code()
                worker.kill()
                return ("error", "signal", -code) if code is not None and code < 0 else ("error", "gone", None)
            if answer[:2] == ("error", protocol.MEMORY):
                worker.kill()
            else:
                self._give_back(worker)
            return answer

    def _unsandboxed(self, operation: str, arguments: tuple[Any, ...], exc: OSError | None) -> tuple[Any, ...]:
        """Do the job in this process where no worker can be started (said once): reading goes on, unbounded."""
        with self._lock:
            first, self._warned = not self._warned, True
        if first and exc is not None:
            log.warning(
                "no reader worker can be started (%s): files are read in this process, without time or memory limits",
                exc.strerror or exc,
            )
        answer = protocol.run(operation, arguments)
        if answer[:2] == ("error", protocol.MEMORY):
            # No limit was set here: the machine's memory ran out.
            return ("error", protocol.UNREADABLE, "this machine ran out of memory reading it")
        return answer

    def _take(self) -> _Worker:
        """An idle worker, or a new one."""
        with self._lock:
            while self._free:
                worker = self._free.pop()
                if worker.process.poll() is None:
                    return worker
                worker.close()
            self.started += 1
        worker = _Worker()  # may raise OSError: the caller reads in this process instead
        if not worker.ready():
            worker.kill()
            raise UnreadableError("the reader could not be started (see the messages above)")
        return worker

    def _give_back(self, worker: _Worker) -> None:
        """Keep a healthy worker for the next job, or let it go when enough are idle."""
        with self._lock:
            if len(self._free) < self.idle:
                self._free.append(worker)
                return
        worker.close()

    def close(self) -> None:
        """Let every idle worker go."""
        with self._lock:
            free, self._free = self._free, []
        for worker in free:
            worker.close()

    def workers(self) -> list[int]:
        """The process ids of the idle workers."""
        with self._lock:
            return [worker.process.pid for worker in self._free]


#: The process's pool: every reader of the package runs through it.
POOL = ReaderPool()
atexit.register(POOL.close)
