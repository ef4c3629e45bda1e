"""The four commands: ``qa index``, ``qa ask``, ``qa eval`` and ``qa serve``; each returns the exit status."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ..build.backend import BuildBackend
from ..config import Environment, Settings, parse_token
from ..errors import EvalDataError, QAError
from ..eval.feedback import FeedbackSummary, down_vote_metrics, feedback_path, read_votes, votes_to_questions
from ..eval.metrics import Report, decision_rule, evaluate
from ..eval.questions import read_beir, read_questions
from ..index import build_from_documents, ensure_index
from ..live import LiveIndex
from ..store.database import database_path
from ..store.runs import BuildOptions, UpdateHooks
from ..update import update_index
from .address import check_address, is_loopback
from .output import format_answer, json_text, say


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings from the options every command shares, and the largest file from ``$QA_MAX_FILE_MB``."""
    env: Environment = args.env
    # The reader's limits are read by each reader worker; a malformed one stops the command here.
    _ = env.read_limits
    changes: dict[str, object] = {"max_file_mb": env.max_file_mb}
    for name in ("retriever", "fusion", "threshold", "min_confidence", "dense_weight"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "context", None):
        changes["context"] = True
    for name in ("sentences", "int8"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name)
    return Settings().with_(**changes)


def require_index(args: argparse.Namespace, *, may_build: bool) -> None:
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


def _live(args: argparse.Namespace, *, refresh: bool, progress: bool, read_only: bool = False) -> LiveIndex:
    """The live index named by the options, built if missing (where allowed) and brought up to date if asked."""
    require_index(args, may_build=True)
    env: Environment = args.env
    live = LiveIndex(
        args.index,
        args.corpus,
        settings=settings_of(args),
        model=args.model,
        notify=say,
        default_corpus=env.corpus,
        read_only=read_only,
    )
    if refresh:
        live.catch_up(progress=progress)
    else:
        live.current()
    return live


def _ray_backend(address: str) -> BuildBackend:
    """A Ray cluster's backend: ``local`` starts an instance here, ``auto`` reads ``$RAY_ADDRESS``."""
    from ..build.cluster import connect

    chosen: str | None = None if address == "local" else address
    if chosen == "auto":
        chosen = os.environ.get("RAY_ADDRESS") or None
        if chosen is None:
            raise QAError("--ray auto takes the cluster address from RAY_ADDRESS, which is not set")
    # Ray reports usage to its makers unless told not to; a build never should.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if chosen is None or is_loopback(chosen.rpartition(":")[0]):
        # Ray takes 127.0.0.1 for the machine's interface address unless this is 0: a local
        # instance would listen there, and a driver could not reach a head on loopback.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    backend = connect(chosen)
    say(backend.cluster.describe())
    return backend


def index_command(args: argparse.Namespace) -> int:
    """Build or update the index, then say what was done (the index is not opened afterwards)."""
    # Without --sentences or --no-sentences, an existing index keeps its choice (Settings.sentences is None).
    settings = settings_of(args).with_(model=args.model)
    backend = _ray_backend(args.ray) if args.ray is not None else None
    options = BuildOptions(
        verify=True,
        trust_stamps=not args.check,
        progress_bar=not args.quiet,
        backend=backend,
        hooks=UpdateHooks(notify=say),
    )
    try:
        report = update_index(args.corpus, args.out, settings=settings, options=options)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    for source, reason in report.skipped:
        say(f"skipped {source}: {reason}")
    for repair in report.repaired:
        say(f"repaired: {repair}")
    windowed = f", {report.windowed} long ones split into windows" if report.windowed else ""
    # The whole command's time (process start included where known), not only the update's.
    started = getattr(args, "started", None)
    seconds = report.seconds if started is None else time.perf_counter() - started
    # Nothing changed, nothing mended, nothing re-pointed: say so in words.
    done = "Checked" if report.updated_files == 0 and not report.repaired and not report.moved_from else "Indexed"
    files = "file" if report.files == 1 else "files"
    updated = "file" if report.updated_files == 1 else "files"
    print(
        f"{done} {report.passages} paragraphs from {report.files} {files}{windowed} in {seconds:.1f} s "
        f"({report.updated_files} {updated} updated, {report.embedded} embedded, {report.reused} reused) "
        f"-> {args.out}/ [{report.model}]" + (": up to date, nothing changed" if done == "Checked" else "")
    )
    return 0


def ask_command(args: argparse.Namespace) -> int:
    """Answer one question."""
    index = _live(args, refresh=not args.no_refresh, progress=not args.json).current()
    answer = index.answer(args.question, args.k, sources=args.source)
    if args.json:
        print(json_text(answer.to_dict()))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(format_answer(answer, colour=colour))
    return 0


def eval_command(args: argparse.Namespace) -> int:
    """Evaluate retrieval on a questions file, a BEIR folder or the votes on quotes."""
    settings = settings_of(args)
    if args.model:
        settings = settings.with_(model=args.model)
    summary: FeedbackSummary | None = None
    if args.feedback is not None:
        if args.questions or args.beir:
            raise QAError("give a questions file, --beir DIR or --feedback FILE, not several")
        # The votes name paragraphs of an existing index: never build one for them.
        require_index(args, may_build=False)
        path = Path(args.feedback) if args.feedback else feedback_path(Path(args.index))
        votes = read_votes(path)
        if not votes:
            raise EvalDataError(f"{path} holds no votes yet: rate quotes in the chat (`qa serve`) first")
        # The votes name paragraphs of this index: its own corpus, brought up to date.
        index = ensure_index(
            args.index, args.corpus, model=args.model, settings=settings, progress=not args.json, notify=say
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
        env: Environment = args.env
        if args.corpus is None:
            # The index as it is (its own corpus); a first build takes $QA_CORPUS, else ./seeds.
            require_index(args, may_build=True)
            folder, corpus = args.index, None
        else:
            folder, corpus = str(Path(args.corpus) / ".qa-index"), args.corpus
        index = ensure_index(
            folder,
            corpus,
            model=args.model,
            settings=settings,
            progress=not args.json,
            notify=say,
            default_corpus=env.corpus,
        )
        report = evaluate(index, questions, k=args.k)
    if args.json:
        data = report.to_dict()
        if summary is not None:
            data["feedback"] = summary.to_dict()
        print(json_text(data))
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


def serve_command(args: argparse.Namespace) -> int:
    """Launch the web chat."""
    from ..web import server as web_server
    from ..web.access import Access
    from ..web.uploads import UploadLimits

    env: Environment = args.env
    # Said before any index is built: malformed server variables, a busy port or a wrong host.
    server = env.server
    if args.token is not None:
        server = replace(server, token=parse_token("--token", args.token))
    # A token is a second way into what --auth protects: alone, the chat's own /ask would stay open.
    if server.token and args.auth is None:
        raise QAError("--token (or $QA_TOKEN) needs --auth USER:PASS too: without it the chat and its /ask are open")
    limits = UploadLimits(max_file_mb=env.max_file_mb, max_files=server.upload_files)
    check_address(args.host, args.port)
    # The first state is referenced only by the live index, so it can be let go when replaced.
    read_only = server.read_only or args.read_only
    # A read-only server (a replica of an index another process writes) never updates it.
    live = _live(args, refresh=True, progress=True, read_only=read_only)
    open_network = args.auth is None and not is_loopback(args.host)
    access = Access.decide(
        read_only=read_only,
        open_network=open_network,
        limits=limits,
        folder=server.upload_folder,
    )
    # Warned once the index is ready, so that no warning precedes an error line.
    if open_network:
        say(
            f"qa: warning: serving on {args.host} without --auth: "
            "anyone who can reach this machine can read the articles (adding documents from the page is off)"
        )
    try:
        web_server.serve(live, host=args.host, port=args.port, auth=args.auth, server=server, access=access)
    except OSError as exc:
        # Taken between the check above and the start: still one line. Any other OSError is not the address's.
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            raise
        raise QAError(
            f"cannot serve on {args.host}:{args.port} ({exc.strerror or exc}): choose another --port"
        ) from exc
    return 0
