"""The ``qa`` command: build the index, ask, evaluate and serve the chat (``qa.cli:main``).

The edge of the package: it reads the ``QA_*`` variables once (:func:`qa.config.read_environment`),
turns every :class:`qa.QAError` into one ``qa: error: …`` line and exit status 1. The top
layer: it may import every other; none imports it (``qa.__main__`` runs it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..config import read_environment
from ..errors import QAError
from .commands import ask_command, eval_command, index_command, serve_command
from .output import error, format_answer, printable
from .parser import auth, build_parser

__all__ = ["auth", "format_answer", "main", "printable"]


def process_started() -> float:
    """The ``time.perf_counter()`` reading at which this process started (Linux), else now.

    A command's reported time then includes starting Python and importing what it needs,
    the wait a person sees (a no-op ``qa index`` once said "0.0 s" after 19 s).
    """
    now = time.perf_counter()
    try:
        # Field 22 of /proc/self/stat, after the parenthesised command name: start time in clock ticks.
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return now
    return now - max(0.0, age)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa`` command; errors print one line and return a non-zero status."""
    # The command's own clock: from process start when run as `qa`, else from this call.
    started = process_started() if argv is None else time.perf_counter()
    # Read once; each variable is checked where a command uses it.
    env = read_environment()
    parser = build_parser(env)
    try:
        args, extra = parser.parse_known_args(argv)
        # Unknown options are reported by the command's parser, so the hint names its --help.
        if extra:
            parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        # --help exits 0; a usage error has printed its one line and exits 1.
        return exc.code if isinstance(exc.code, int) else 1
    args.env = env
    args.started = started
    if hasattr(args, "index"):
        args.index_given = args.index is not None
        # A corpus named without an index is indexed inside it, never into the default index of another corpus.
        if args.index is None and args.command in ("ask", "serve") and args.corpus is not None:
            args.index = str(Path(args.corpus) / ".qa-index")
        args.index = args.index or env.index
    handlers = {"index": index_command, "ask": ask_command, "eval": eval_command, "serve": serve_command}
    try:
        return handlers[args.command](args)
    except QAError as exc:
        error(str(exc))
        return 1
    except OSError as exc:
        # Disk full, permission denied and the like: the last complete index is untouched.
        error(f"{exc.strerror or exc} ({exc.filename or 'no file'})")
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted; the last complete index is unchanged", file=sys.stderr)
        return 130
