"""The ``qa`` command: build the index, ask, evaluate and serve the chat."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .answers import Answer, Quote
from .config import DEFAULT_MODEL, FUSIONS, RETRIEVERS, Settings
from .errors import QAError
from .index import build_from_documents, build_index, ensure_index
from .live import LiveIndex

_BOLD = "\033[1;33m"
_RESET = "\033[0m"


def _env(name: str, default: str) -> str:
    """Read a ``QA_*`` environment variable, falling back to ``default``."""
    return os.environ.get(name) or default


def _say(message: str) -> None:
    """Print a progress or warning line to standard error."""
    print(message, file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line options that every command shares."""
    changes: dict[str, object] = {}
    for name in ("retriever", "fusion", "threshold", "dense_weight"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "context", None):
        changes["context"] = True
    return Settings().with_(**changes)


def _add_retrieval_options(parser: argparse.ArgumentParser) -> None:
    """Options that tune retrieval, shared by ask, eval and serve."""
    parser.add_argument("--retriever", choices=RETRIEVERS, help="dense, lexical or hybrid (default: hybrid)")
    parser.add_argument("--fusion", choices=FUSIONS, help="how hybrid merges rankings (default: minmax)")
    parser.add_argument("--dense-weight", type=float, help="weight of the dense score in minmax fusion")
    parser.add_argument("--threshold", type=float, help="abstain when the best cosine is below this")


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    """Options naming the index folder and model."""
    parser.add_argument(
        "--index", default=_env("QA_INDEX", "embeddings"), help="index folder (default: embeddings, or $QA_INDEX)"
    )
    parser.add_argument(
        "--model", default=os.environ.get("QA_MODEL"), help=f"embedding model (default: {DEFAULT_MODEL}, or $QA_MODEL)"
    )


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser with its four commands."""
    parser = argparse.ArgumentParser(
        prog="qa", description="Answer questions about a folder of articles by quoting them, with citations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", help="build or update the index of a corpus folder")
    index.add_argument(
        "corpus", nargs="?", default=_env("QA_CORPUS", "seeds"), help="folder of .txt/.md articles (default: seeds)"
    )
    index.add_argument("--out", default=_env("QA_INDEX", "embeddings"), help="index folder (default: embeddings)")
    index.add_argument(
        "--model",
        default=os.environ.get("QA_MODEL") or DEFAULT_MODEL,
        help=f"embedding model name or path (default: {DEFAULT_MODEL})",
    )
    index.add_argument(
        "--context", action="store_true", help="embed each paragraph with its article's title and lead sentence"
    )
    index.add_argument("--quiet", action="store_true", help="no progress bar")

    ask = commands.add_parser("ask", help="answer a question with quotes from the articles")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument(
        "--k",
        type=int,
        default=None,
        help="passages to rank (default: 5); those that clear the relevance cut are quoted, the rest listed as more",
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
    serve.add_argument("--port", type=int, default=int(_env("QA_PORT", "7860")), help="port (default: 7860)")
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
    evaluate.add_argument("--k", type=int, default=20, help="ranking depth (default: 20)")
    evaluate.add_argument("--json", action="store_true", help="print metrics and rankings as JSON")
    evaluate.add_argument(
        "--context",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="embed passages with their title (default: on for --beir, as BEIR embeds title and text; off otherwise)",
    )
    _add_index_options(evaluate)
    _add_retrieval_options(evaluate)
    return parser


def _highlighted(text: str, spans: Sequence[tuple[int, int]], colour: bool) -> str:
    """The quote with its highlighted sentences in bold when printing to a terminal."""
    if not colour or not spans:
        return text
    out, last = [], 0
    for start, end in sorted(spans):
        out += [text[last:start], _BOLD, text[start:end], _RESET]
        last = end
    out.append(text[last:])
    return "".join(out)


def format_answer(answer: Answer, *, colour: bool = False) -> str:
    """Render an answer for the terminal: citations, verbatim quotes, highlights, then the further passages."""
    lines = [answer.message, ""]
    if answer.searched and answer.searched != answer.question:
        lines += [f"searched for: {answer.searched}", ""]
    for quote in answer.quotes:
        lines += _quote_lines(quote, colour, answer.found)
    if answer.more:
        lines += ["more passages (less likely to answer):", ""]
        for quote in answer.more:
            lines += _quote_lines(quote, colour, answer.found)
    lines += [f"note: {warning}" for warning in answer.warnings]
    return "\n".join(lines).rstrip() + "\n"


def _quote_lines(quote: Quote, colour: bool, found: bool) -> list[str]:
    """One quote for the terminal: rank, title and citation, the verbatim text, its best sentence."""
    lines = []
    title = f" {quote.title} —" if quote.title else ""
    # The ranking score is relative to the other passages: not shown when none answers.
    score = f"  (match {quote.score:.2f})" if found else ""
    lines.append(f"[{quote.rank}]{title} {quote.citation}{score}")
    for line in _highlighted(quote.text, quote.highlights, colour).splitlines() or [""]:
        lines.append(f"    > {line}")
    if quote.highlights and not colour:
        start, end = quote.highlights[0]
        lines.append(f"    best sentence: {quote.text[start:end]}")
    if quote.also_in:
        lines.append(f"    also in: {', '.join(quote.also_in)}")
    lines.append("")
    return lines


def _live(args: argparse.Namespace, *, refresh: bool, progress: bool) -> LiveIndex:
    """The live index named by the options, built if missing and brought up to date if asked."""
    live = LiveIndex(args.index, args.corpus, settings=_settings(args), model=args.model, notify=_say)
    if refresh:
        live.catch_up(progress=progress)
    else:
        live.current()
    return live


def _cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index."""
    settings = _settings(args).with_(model=args.model)
    index = build_index(args.corpus, args.out, settings=settings, progress=not args.quiet, verify=True, notify=_say)
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
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(format_answer(answer, colour=colour))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate retrieval on a questions file, a BEIR folder or the votes on quotes."""
    from .errors import EvalDataError
    from .evaluation import Report, evaluate, read_beir, read_questions
    from .feedback import FeedbackSummary, down_vote_metrics, feedback_path, read_votes, votes_to_questions

    settings = _settings(args)
    if args.model:
        settings = settings.with_(model=args.model)
    summary: FeedbackSummary | None = None
    if args.feedback is not None:
        if args.questions or args.beir:
            raise QAError("give a questions file, --beir DIR or --feedback FILE, not several")
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
        default_index = args.index if args.corpus is None else str(Path(corpus) / ".qa-index")
        index = ensure_index(
            default_index, corpus, model=args.model, settings=settings, progress=not args.json, notify=_say
        )
        report = evaluate(index, questions, k=args.k)
    if args.json:
        data = report.to_dict()
        if summary is not None:
            data["feedback"] = summary.to_dict()
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if summary is not None:
        print(
            f"{summary.votes} votes: {summary.up} up and {summary.down} down count (the last per query and "
            f"paragraph), {summary.gone} on paragraphs no longer indexed, {summary.unanswered} queries with only "
            "down-votes (left out)"
        )
    print(f"{len(questions)} questions, retriever {index.settings.retriever}, model {index.manifest.model}")
    for name, value in report.metrics.items():
        shown = "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        print(f"  {name:<22} {shown}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """Launch the web chat."""
    from .app import serve

    # The first state is referenced only by the live index, so it can be let go when replaced.
    serve(_live(args, refresh=True, progress=True), host=args.host, port=args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa`` command; errors print one line and return a non-zero status."""
    args = _parser().parse_args(argv)
    handlers = {"index": _cmd_index, "ask": _cmd_ask, "eval": _cmd_eval, "serve": _cmd_serve}
    try:
        return handlers[args.command](args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # Disk full, permission denied and the like: the last complete index is untouched.
        print(f"qa: error: {exc.strerror or exc} ({exc.filename or 'no file'})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted; the last complete index is unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
