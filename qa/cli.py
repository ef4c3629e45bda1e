"""The ``qa`` command: build the index, ask, evaluate and serve the chat."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .answers import Answer, Quote
from .config import DEFAULT_MODEL, FUSIONS, MAX_ANSWER_K, RETRIEVERS, Settings
from .database import database_path
from .errors import QAError
from .index import build_from_documents, build_index, ensure_index, load_index
from .live import LiveIndex

_BOLD = "\033[1;33m"
_RESET = "\033[0m"

#: C0 and C1 control characters and DEL, except newline and tab: they can move the cursor,
#: retitle the window or hide text, so they are shown as escapes, never sent to a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: DEL and C1 controls, which ``json.dumps(ensure_ascii=False)`` leaves raw.
_JSON_RAW_CONTROL = re.compile(r"[\x7f-\x9f]")
#: Deepest ranking ``qa eval --k`` computes.
_MAX_EVAL_K = 1000
#: Hosts that only this machine can reach.
_LOOPBACK_NAMES = frozenset({"localhost"})
#: Addresses that mean "every interface" (reachable from other machines).
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})

_INDEX_RULE = (
    "index folder (default: embeddings, or $QA_INDEX; built there on first use); a folder given here must "
    "hold an index, be empty, or come with --corpus to build it there (its parent folder must exist)"
)


def printable(text: str) -> str:
    r"""``text`` safe for a terminal: control characters other than newline and tab shown as ``\xNN``."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _json_text(data: object) -> str:
    """``data`` as indented JSON; every control character is a JSON escape, so the text decodes verbatim."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    # Raw DEL/C1 characters can only occur inside JSON strings, where \u00XX means the same character.
    return _JSON_RAW_CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``qa: error:`` line and exit status 1."""

    #: The parser of each command, set by :func:`_parser`.
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        """Print one line naming the mistake and where to read the options, then exit 1."""
        self.exit(1, f"qa: error: {printable(message)} (see {self.prog} --help)\n")


def _whole(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers from ``low`` to ``high``."""

    def parse(value: str) -> int:
        """``value`` as an ``int`` in range, else an error naming the range."""
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
        return number

    return parse


def _real(name: str, low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type`` accepting finite numbers from ``low`` to ``high``."""

    def parse(value: str) -> float:
        """``value`` as a ``float`` in range, else an error naming the range."""
        try:
            number = float(value)
        except ValueError:
            number = None
        # NaN fails every comparison, so it is refused with the out-of-range values.
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")
        return number

    return parse


def _auth(value: str) -> tuple[str, str]:
    """``USER:PASS`` as ``(user, password)``; the password may contain colons, neither part may be empty."""
    user, colon, password = value.partition(":")
    if not colon or not user or not password:
        # The value is not echoed: it holds a password.
        raise argparse.ArgumentTypeError("must be USER:PASS, with neither part empty")
    return user, password


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env(name: str, default: str) -> str:
    """Read a ``QA_*`` environment variable, falling back to ``default``."""
    return os.environ.get(name) or default


def _say(message: str) -> None:
    """Print a progress or warning line to standard error (file names in it may hold control characters)."""
    print(printable(message), file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line options that every command shares."""
    changes: dict[str, object] = {}
    for name in ("retriever", "fusion", "threshold", "min_confidence", "dense_weight"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "context", None):
        changes["context"] = True
    if getattr(args, "sentences", None) is not None:
        changes["sentences"] = args.sentences
    return Settings().with_(**changes)


def _add_retrieval_options(parser: argparse.ArgumentParser) -> None:
    """Options that tune retrieval, shared by ask, eval and serve."""
    parser.add_argument("--retriever", choices=RETRIEVERS, help="dense, lexical or hybrid (default: hybrid)")
    parser.add_argument("--fusion", choices=FUSIONS, help="how hybrid merges rankings (default: minmax)")
    parser.add_argument(
        "--dense-weight", type=_real("dense weight", 0, 1), help="weight of the dense score in minmax fusion (0 to 1)"
    )
    parser.add_argument(
        "--min-confidence",
        type=_real("min confidence", 0, 1),
        help="abstain when the calibrated probability that the best passage answers is below this (0 to 1)",
    )
    parser.add_argument(
        "--threshold",
        type=_real("threshold", -1, 1),
        help="expert override: abstain when the best cosine is below this (-1 to 1), instead of the calibrated model",
    )


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    """Options naming the index folder and model."""
    # None marks the default folder, resolved in main(): only there is a missing index built unasked.
    parser.add_argument("--index", default=None, help=_INDEX_RULE)
    parser.add_argument(
        "--model", default=os.environ.get("QA_MODEL"), help=f"embedding model (default: {DEFAULT_MODEL}, or $QA_MODEL)"
    )


def _parser() -> _Parser:
    """Build the argument parser with its four commands."""
    parser = _Parser(
        prog="qa", description="Answer questions about a folder of articles by quoting them, with citations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", help="build or update the index of a corpus folder")
    index.add_argument(
        "corpus",
        nargs="?",
        default=_env("QA_CORPUS", "seeds"),
        help="folder of articles: text, Markdown, HTML, PDF or Word (.docx) files (default: seeds, or $QA_CORPUS)",
    )
    index.add_argument(
        "--out", default=_env("QA_INDEX", "embeddings"), help="index folder (default: embeddings, or $QA_INDEX)"
    )
    index.add_argument(
        "--model",
        default=os.environ.get("QA_MODEL") or DEFAULT_MODEL,
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
        type=_whole("k", 1, MAX_ANSWER_K),
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
    ask.add_argument("--corpus", default=None, help="corpus folder to build from if there is no index yet")
    ask.add_argument("--no-refresh", action="store_true", help="do not update the index when the articles changed")
    _add_index_options(ask)
    _add_retrieval_options(ask)

    serve = commands.add_parser("serve", help="launch the web chat")
    serve.add_argument("--host", default=_env("QA_HOST", "127.0.0.1"), help="address to bind (default: 127.0.0.1)")
    # A string default goes through ``type`` too, so a bad $QA_PORT is refused like a bad --port.
    serve.add_argument(
        "--port", type=_whole("port", 1, 65535), default=_env("QA_PORT", "7860"), help="port (default: 7860)"
    )
    serve.add_argument(
        "--auth",
        type=_auth,
        default=os.environ.get("QA_AUTH") or None,
        metavar="USER:PASS",
        help="ask every visitor for this user name and password (default: $QA_AUTH, which keeps it out of the "
        "process list); without it, serving beyond 127.0.0.1 prints a warning",
    )
    serve.add_argument(
        "--corpus", default=None, help="corpus folder (default: the one the index was built from, or seeds)"
    )
    _add_index_options(serve)
    _add_retrieval_options(serve)

    evaluate = commands.add_parser("eval", help="measure retrieval on questions with known answers")
    evaluate.add_argument("questions", nargs="?", help="JSON-lines questions file (id, question, relevant)")
    evaluate.add_argument("--corpus", default=None, help="corpus folder the questions are about (default: seeds)")
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
        "--k", type=_whole("k", 1, _MAX_EVAL_K), default=20, help=f"ranking depth (1 to {_MAX_EVAL_K}, default: 20)"
    )
    evaluate.add_argument("--json", action="store_true", help="print metrics and rankings as JSON")
    evaluate.add_argument(
        "--context",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="embed passages with their title (default: on for --beir, as BEIR embeds title and text; off otherwise)",
    )
    _add_index_options(evaluate)
    _add_retrieval_options(evaluate)
    parser.commands = {"index": index, "ask": ask, "serve": serve, "eval": evaluate}
    return parser


def _highlighted(text: str, spans: Sequence[tuple[int, int]], colour: bool) -> str:
    """The quote with its highlighted sentences in bold when printing to a terminal."""
    if not colour or not spans:
        return printable(text)
    out, last = [], 0
    # Escaped piece by piece: the spans count characters of the unescaped text.
    for start, end in sorted(spans):
        out += [printable(text[last:start]), _BOLD, printable(text[start:end]), _RESET]
        last = end
    out.append(printable(text[last:]))
    return "".join(out)


def format_answer(answer: Answer, *, colour: bool = False) -> str:
    """Render an answer for the terminal: citations, verbatim quotes, highlights, then the further passages.

    Text from the articles is shown verbatim except for control characters, which are escaped (see
    :func:`printable`) so that an article cannot drive the terminal.
    """
    lines = [printable(answer.message), ""]
    if answer.searched and answer.searched != answer.question:
        lines += [f"searched for: {printable(answer.searched)}", ""]
    for quote in answer.quotes:
        lines += _quote_lines(quote, colour, answer.found)
    if answer.more:
        lines += ["more passages (less likely to answer):", ""]
        for quote in answer.more:
            lines += _quote_lines(quote, colour, answer.found)
    lines += [f"note: {printable(warning)}" for warning in answer.warnings]
    return "\n".join(lines).rstrip() + "\n"


def _quote_lines(quote: Quote, colour: bool, found: bool) -> list[str]:
    """One quote for the terminal: rank, title and citation, the verbatim text, its best sentence."""
    lines = []
    title = f" {printable(quote.title)} —" if quote.title else ""
    # The ranking score is relative to the other passages: not shown when none answers.
    score = f"  (match {quote.score:.2f})" if found else ""
    lines.append(f"[{quote.rank}]{title} {printable(quote.citation)}{score}")
    for line in _highlighted(quote.text, quote.highlights, colour).splitlines() or [""]:
        lines.append(f"    > {line}")
    if quote.highlights and not colour:
        start, end = quote.highlights[0]
        lines.append(f"    best sentence: {printable(quote.text[start:end])}")
    if quote.also_in:
        lines.append(f"    also in: {printable(', '.join(quote.also_in))}")
    lines.append("")
    return lines


def _require_index(args: argparse.Namespace, *, may_build: bool) -> None:
    """Refuse an ``--index`` folder that holds no index, unless building one there is what was asked.

    With ``may_build``, an index is built on first use in the default folder (``embeddings``
    or $QA_INDEX, created if missing), in an empty folder, or where ``--corpus`` is given and
    the folder's parent exists. Anywhere else a missing index is an error, so that a
    mistyped ``--index`` neither creates folders nor indexes ./seeds into the wrong place.

    Raises:
        QAError: There is no index and none is to be built here.

    """
    folder = Path(args.index)
    if folder.exists() and not folder.is_dir():
        raise QAError(f"--index {folder} is a file, not an index folder")
    # The database is the index; manifest.json beside it is only a summary for people.
    if database_path(folder).is_file():
        return
    if may_build:
        if not args.index_given:
            return
        if folder.is_dir() and not any(folder.iterdir()):
            return
        if args.corpus is not None and folder.parent.is_dir():
            return
    advice = f"build one with `qa index CORPUS --out {folder}`"
    if may_build and not folder.parent.is_dir():
        raise QAError(f"no index at {folder} (and no folder {folder.parent}): {advice}")
    if may_build:
        advice += ", or give --corpus CORPUS to build it there"
    raise QAError(f"no index at {folder}: {advice}")


def _live(args: argparse.Namespace, *, refresh: bool, progress: bool) -> LiveIndex:
    """The live index named by the options, built if missing (where allowed) and brought up to date if asked."""
    _require_index(args, may_build=True)
    live = LiveIndex(args.index, args.corpus, settings=_settings(args), model=args.model, notify=_say)
    if refresh:
        live.catch_up(progress=progress)
    else:
        live.current()
    return live


def _built_with_sentences(folder: Path) -> bool:
    """Whether the index in ``folder`` holds sentence vectors (``True`` where there is none to ask)."""
    try:
        return load_index(folder).manifest.sentences
    except QAError:
        return True


def _cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index."""
    settings = _settings(args).with_(model=args.model)
    if args.sentences is None:
        # Not asked either way: an existing index keeps its choice of sentence vectors.
        settings = settings.with_(sentences=_built_with_sentences(Path(args.out)))
    backend = None
    if args.ray is not None:
        from .distributed import connect

        address = None if args.ray == "local" else args.ray
        if address == "auto":
            address = os.environ.get("RAY_ADDRESS") or None
            if address is None:
                raise QAError("--ray auto takes the cluster address from RAY_ADDRESS, which is not set")
        # Ray reports usage to its makers unless told not to; a build never should.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is None or _is_loopback(address.rpartition(":")[0]):
            # Ray takes 127.0.0.1 for the machine's interface address unless this is 0: a local
            # instance would listen there, and a driver could not reach a head on loopback.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        backend = connect(address)
        _say(backend.cluster.describe())
    try:
        index = build_index(
            args.corpus,
            args.out,
            settings=settings,
            progress=not args.quiet,
            verify=True,
            notify=_say,
            backend=backend,
        )
    finally:
        if backend is not None:
            backend.close()
    report = index.report
    assert report is not None
    for source, reason in report.skipped:
        _say(f"skipped {source}: {reason}")
    for repair in report.repaired:
        _say(f"repaired: {repair}")
    windowed = f", {report.windowed} long ones split into windows" if report.windowed else ""
    print(
        f"Indexed {report.passages} paragraphs from {report.files} files{windowed} in {report.seconds:.1f} s "
        f"({report.updated_files} files updated, {report.embedded} embedded, {report.reused} reused) "
        f"-> {args.out}/ [{index.manifest.model}]"
    )
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question."""
    index = _live(args, refresh=not args.no_refresh, progress=not args.json).current()
    answer = index.answer(args.question, args.k, sources=args.source)
    if args.json:
        print(_json_text(answer.to_dict()))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(format_answer(answer, colour=colour))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate retrieval on a questions file, a BEIR folder or the votes on quotes."""
    from .errors import EvalDataError
    from .evaluation import Report, decision_rule, evaluate, read_beir, read_questions
    from .feedback import FeedbackSummary, down_vote_metrics, feedback_path, read_votes, votes_to_questions

    settings = _settings(args)
    if args.model:
        settings = settings.with_(model=args.model)
    summary: FeedbackSummary | None = None
    if args.feedback is not None:
        if args.questions or args.beir:
            raise QAError("give a questions file, --beir DIR or --feedback FILE, not several")
        # The votes name paragraphs of an existing index: never build one for them.
        _require_index(args, may_build=False)
        path = Path(args.feedback) if args.feedback else feedback_path(Path(args.index))
        votes = read_votes(path)
        if not votes:
            raise EvalDataError(f"{path} holds no votes yet: rate quotes in the chat (`qa serve`) first")
        # The votes name paragraphs of this index: its own corpus, brought up to date.
        index = ensure_index(
            args.index, args.corpus, model=args.model, settings=settings, progress=not args.json, notify=_say
        )
        questions, summary = votes_to_questions(votes, index)
        if not questions:
            raise EvalDataError(
                f"no usable votes in {path}: of {summary.votes} votes, {summary.gone} are on paragraphs no longer "
                f"indexed and {summary.unanswered} queries have only down-votes; a question needs an up-voted "
                "paragraph that is still indexed"
            )
        report = evaluate(index, questions, k=args.k)
        report = Report({**report.metrics, **down_vote_metrics(index, votes)}, report.questions)
    elif args.beir:
        documents, questions = read_beir(args.beir, args.split)
        # BEIR documents are single passages with their own title: embed title and text
        # together, as the BEIR protocol does, unless told otherwise.
        settings = settings.with_(context=args.context is not False)
        cache = Path(args.beir) / ".qa-index" if os.access(args.beir, os.W_OK) else Path(tempfile.mkdtemp())
        index = build_from_documents(documents, cache, settings=settings, progress=not args.json, label="")
        report = evaluate(index, questions, k=args.k, by_document=True)
    else:
        if not args.questions:
            raise QAError("give a questions file (JSON lines), --beir DIR or --feedback FILE")
        questions = read_questions(args.questions)
        corpus = args.corpus or "seeds"
        if args.corpus is None:
            _require_index(args, may_build=True)
        default_index = args.index if args.corpus is None else str(Path(corpus) / ".qa-index")
        index = ensure_index(
            default_index, corpus, model=args.model, settings=settings, progress=not args.json, notify=_say
        )
        report = evaluate(index, questions, k=args.k)
    if args.json:
        data = report.to_dict()
        if summary is not None:
            data["feedback"] = summary.to_dict()
        print(_json_text(data))
        return 0
    if summary is not None:
        print(
            f"{summary.votes} votes: {summary.up} up and {summary.down} down count (the last per query and "
            f"paragraph), {summary.gone} on paragraphs no longer indexed, {summary.unanswered} queries with only "
            "down-votes (left out)"
        )
    print(f"{len(questions)} questions, retriever {index.settings.retriever}, model {index.manifest.model}")
    print(f"  {decision_rule(index)}")
    for name, value in report.metrics.items():
        shown = "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        print(f"  {name:<22} {shown}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """Launch the web chat."""
    from .app import serve

    # The first state is referenced only by the live index, so it can be let go when replaced.
    live = _live(args, refresh=True, progress=True)
    # Warned once the index is ready, so that no warning precedes an error line.
    if args.auth is None and not _is_loopback(args.host):
        _say(
            f"qa: warning: serving on {args.host} without --auth: "
            "anyone who can reach this machine can read the articles"
        )
    try:
        serve(live, host=args.host, port=args.port, auth=args.auth)
    except OSError as exc:
        # Gradio reports a port it cannot bind as "Cannot find empty port in range: P-P".
        if exc.errno != errno.EADDRINUSE and "empty port" not in str(exc):
            raise
        # Gradio also says so for an address that is not this machine's.
        where = (
            "" if _is_loopback(args.host) or args.host in _WILDCARDS else f" (or {args.host} is not an address here)"
        )
        raise QAError(f"port {args.port} is in use{where}: choose another with --port") from exc
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa`` command; errors print one line and return a non-zero status."""
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        # Unknown options are reported by the command's parser, so the hint names its --help.
        if extra:
            parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        # --help exits 0; a usage error has printed its one line and exits 1.
        return exc.code if isinstance(exc.code, int) else 1
    if hasattr(args, "index"):
        args.index_given = args.index is not None
        args.index = args.index or _env("QA_INDEX", "embeddings")
    handlers = {"index": _cmd_index, "ask": _cmd_ask, "eval": _cmd_eval, "serve": _cmd_serve}
    try:
        return handlers[args.command](args)
    except QAError as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        # Disk full, permission denied and the like: the last complete index is untouched.
        _error(f"{exc.strerror or exc} ({exc.filename or 'no file'})")
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted; the last complete index is unchanged", file=sys.stderr)
        return 130


def _error(message: str) -> None:
    """Print ``message`` as the one ``qa: error:`` line on standard error."""
    print(f"qa: error: {printable(' '.join(message.splitlines()))}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
