"""The ``qa`` command line: its commands and options, and argument types that refuse bad values in one line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn, TypeVar

from ..config import DEFAULT_MODEL, FUSIONS, MAX_ANSWER_K, RETRIEVERS, Environment, parse_auth
from ..errors import SettingsError
from .output import printable

Number = TypeVar("Number", int, float)

#: Deepest ranking ``qa eval --k`` computes.
MAX_EVAL_K = 1000

_INDEX_RULE = (
    "index folder (default: embeddings, or $QA_INDEX; built there on first use); a folder given here must "
    "hold an index, be empty, or come with --corpus to build it there (its parent folder must exist)"
)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``qa: error:`` line and exit status 1."""

    #: The parser of each command, set by :func:`build_parser`.
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        """Print one line naming the mistake and where to read the options, then exit 1."""
        self.exit(1, f"qa: error: {printable(message)} (see {self.prog} --help)\n")


def whole(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers from ``low`` to ``high``."""
    return _ranged(int, f"{name} must be a whole number from {low} to {high}", low, high)


def real(name: str, low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type`` accepting finite numbers from ``low`` to ``high``."""
    return _ranged(float, f"{name} must be a number from {low:g} to {high:g}", low, high)


def _ranged(kind: Callable[[str], Number], rule: str, low: float, high: float) -> Callable[[str], Number]:
    """An argparse ``type``: ``kind(value)`` if it lies from ``low`` to ``high``, else an error saying ``rule``."""

    def parse(value: str) -> Number:
        try:
            number = kind(value)
        except ValueError:
            number = None
        # NaN fails every comparison, so it is refused with the out-of-range values.
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{rule}, not {value[:40]!r}")
        return number

    return parse


def auth(value: str) -> tuple[str, str]:
    """``USER:PASS`` as ``(user, password)`` for ``--auth`` (see :func:`qa.config.parse_auth`)."""
    try:
        return parse_auth(value)
    except SettingsError:
        # The value is not echoed: it holds a password.
        raise argparse.ArgumentTypeError("must be USER:PASS, with neither part empty") from None


def add_retrieval_options(parser: argparse.ArgumentParser) -> None:
    """Options that tune retrieval, shared by ask, eval and serve."""
    parser.add_argument("--retriever", choices=RETRIEVERS, help="dense, lexical or hybrid (default: hybrid)")
    parser.add_argument("--fusion", choices=FUSIONS, help="how hybrid merges rankings (default: minmax)")
    parser.add_argument(
        "--dense-weight", type=real("dense weight", 0, 1), help="weight of the dense score in minmax fusion (0 to 1)"
    )
    parser.add_argument(
        "--min-confidence",
        type=real("min confidence", 0, 1),
        help="abstain when the calibrated probability that the best passage answers is below this (0 to 1)",
    )
    parser.add_argument(
        "--threshold",
        type=real("threshold", -1, 1),
        help="expert override: abstain when the best cosine is below this (-1 to 1), instead of the calibrated model",
    )


def add_index_options(parser: argparse.ArgumentParser, env: Environment) -> None:
    """Options naming the index folder and model."""
    # None marks the default folder, resolved in main(): only there is a missing index built unasked.
    parser.add_argument("--index", default=None, help=_INDEX_RULE)
    parser.add_argument("--model", default=env.model, help=f"embedding model (default: {DEFAULT_MODEL}, or $QA_MODEL)")


def build_parser(env: Environment) -> Parser:
    """The argument parser with its four commands; defaults come from the ``QA_*`` variables read in ``env``."""
    parser = Parser(
        prog="qa", description="Answer questions about a folder of articles by quoting them, with citations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", help="build or update the index of a corpus folder")
    index.add_argument(
        "corpus",
        nargs="?",
        default=env.corpus,
        help="folder of articles: text, Markdown, HTML, PDF or Word (.docx) files (default: seeds, or $QA_CORPUS)",
    )
    index.add_argument("--out", default=env.index, help="index folder (default: embeddings, or $QA_INDEX)")
    index.add_argument(
        "--model",
        default=env.model or DEFAULT_MODEL,
        help=f"embedding model name or path (default: {DEFAULT_MODEL})",
    )
    index.add_argument(
        "--context", action="store_true", help="embed each paragraph with its article's title and lead sentence"
    )
    index.add_argument(
        "--sentences",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="embed each sentence on its own too (the default); --no-sentences embeds about 1.8x less and "
        "retrieves a little worse; without either, an existing index keeps its choice",
    )
    index.add_argument(
        "--int8",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="embed documents through the model's int8 twin (the default for a new index: about 3x faster on a "
        "CPU, vectors at cosine 0.994 to fp32); --no-int8 embeds them in fp32 (on a GPU if there is one); "
        "without either, an existing index keeps its choice",
    )
    index.add_argument(
        "--check",
        action="store_true",
        help="check the whole database and the base files for damage, even what was verified and has not changed "
        "since (damage that left a file's size and times as they were, a bad disk block)",
    )
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="read, split and embed on a Ray cluster: HOST:PORT of its head, `auto` ($RAY_ADDRESS), or nothing "
        'for a local instance (needs the extra: pip install -e ".[ray]"); put the corpus folder before --ray',
    )

    ask = commands.add_parser("ask", help="answer a question with quotes from the articles")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument(
        "--k",
        type=whole("k", 1, MAX_ANSWER_K),
        default=None,
        help=f"passages to rank (1 to {MAX_ANSWER_K}, default: 5); those that clear the relevance cut are quoted, "
        "the rest listed as more",
    )
    ask.add_argument(
        "--source",
        action="append",
        default=None,
        metavar="FILE_OR_FOLDER",
        help="search only this file or folder (relative to the corpus; repeat for several)",
    )
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument(
        "--corpus",
        default=None,
        help="corpus folder, indexed in DIR/.qa-index unless --index is given (default: the index's own corpus, "
        "else seeds or $QA_CORPUS)",
    )
    ask.add_argument("--no-refresh", action="store_true", help="do not update the index when the articles changed")
    add_index_options(ask, env)
    add_retrieval_options(ask)

    serve = commands.add_parser("serve", help="launch the web chat")
    serve.add_argument("--host", default=env.host, help="address to bind (default: 127.0.0.1, or $QA_HOST)")
    serve.add_argument(
        # As set: argparse converts a string default only for `qa serve` and only when --port is not
        # given, so a bad $QA_PORT is refused like a bad --port, and nowhere else.
        "--port",
        type=whole("port", 1, 65535),
        default=env.text("QA_PORT", "7860"),
        help="port (default: 7860, or $QA_PORT)",
    )
    serve.add_argument(
        "--auth",
        type=auth,
        default=env.text("QA_AUTH", "") or None,
        metavar="USER:PASS",
        help="ask every visitor for this user name and password (default: $QA_AUTH, which keeps it out of the "
        "process list); without it, serving beyond 127.0.0.1 prints a warning",
    )
    serve.add_argument(
        "--corpus",
        default=None,
        help="corpus folder, indexed in DIR/.qa-index unless --index is given "
        "(default: the one the index was built from, else seeds or $QA_CORPUS)",
    )
    serve.add_argument(
        "--token",
        default=None,
        metavar="TOKEN",
        help="a bearer token the JSON API takes (default: $QA_TOKEN, which keeps it out of the process list); "
        "16 to 512 printable characters",
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="no documents added or removed from the page, and the index is never updated here: a replica "
        "of an index another process writes, whose commits it picks up (default: $QA_READ_ONLY=1 says the same)",
    )
    add_index_options(serve, env)
    add_retrieval_options(serve)

    evaluate = commands.add_parser("eval", help="measure retrieval on questions with known answers")
    evaluate.add_argument("questions", nargs="?", help="JSON-lines questions file (id, question, relevant)")
    evaluate.add_argument(
        "--corpus",
        default=None,
        help="corpus folder the questions are about, indexed in DIR/.qa-index (default: the index as it is; "
        "a first build takes seeds, or $QA_CORPUS)",
    )
    evaluate.add_argument("--beir", default=None, help="a data set in BEIR layout instead of a questions file")
    evaluate.add_argument("--split", default="test", help="BEIR qrels split (default: test)")
    evaluate.add_argument(
        "--feedback",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="votes on quotes instead of a questions file (default FILE: feedback.jsonl in the index folder)",
    )
    evaluate.add_argument(
        "--k", type=whole("k", 1, MAX_EVAL_K), default=20, help=f"ranking depth (1 to {MAX_EVAL_K}, default: 20)"
    )
    evaluate.add_argument("--json", action="store_true", help="print metrics and rankings as JSON")
    evaluate.add_argument(
        "--context",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="embed passages with their title (default: on for --beir, as BEIR embeds title and text; off otherwise)",
    )
    add_index_options(evaluate, env)
    add_retrieval_options(evaluate)
    parser.commands = {"index": index, "ask": ask, "serve": serve, "eval": evaluate}
    return parser
