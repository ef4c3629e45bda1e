"""Concurrent users against `qa serve`: requests, errors, latency and throughput, REST and Gradio.

Usage:
    python benchmarks/load.py [--users 1 8 16 32] [--seconds 15] [--api rest gradio]
                              [--concurrency 4] [--baseline REV]
    python benchmarks/load.py --burst [burst.py's options]

``--burst`` measures memory instead: the server's RSS before, at the peak and after a burst
of 64 users (``benchmarks/burst.py``, which it runs with the options that follow).

First, with no server running, ``Index.answer`` is called in this process on one thread
over the index in ``embeddings/`` (built from ``seeds/`` if missing) for the given
seconds: the answers per second the HTTP layer is measured against. Then, for each
answer-concurrency setting (``$QA_CONCURRENCY``), it starts ``qa serve`` on a free port of
127.0.0.1 over the same index and, for each API, runs N users, each asking the seed dev
questions in turn: ``rest`` posts to ``/api/v1/answer`` (httpx), ``gradio`` calls Gradio's
``/ask`` (``gradio_client``). It prints per N: requests, errors (failed requests or
answers with an ``error``), p50 and p95 latency, requests per second, and that rate
against in-process ``Index.answer``. Clients (spread over a few processes) and server
share the machine's cores, as on a laptop. With ``--baseline REV`` it also serves that git
revision, checked out beside this one, through Gradio's ``/ask`` (the only API it had).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


@dataclass
class Tally:
    """What the users of one run saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def in_process(seconds: float, questions: list[str]) -> dict[str, float]:
    """``Index.answer`` on one thread of this process for ``seconds``: the figures of the run."""
    import qa

    index = qa.LiveIndex(ROOT / "embeddings", ROOT / "seeds").current()
    index.answer(questions[0])
    latencies: list[float] = []
    errors = 0
    until = time.monotonic() + seconds
    started = time.monotonic()
    number = 0
    while time.monotonic() < until:
        begun = time.perf_counter()
        try:
            index.answer(questions[number % len(questions)])
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - begun)
        number += 1
    return summary(latencies, errors, time.monotonic() - started)


def summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    """Requests, errors, p50 and p95 latency and requests per second of a run."""
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_s": statistics.median(latencies) if latencies else float("nan"),
        "p95_s": latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        "per_s": len(latencies) / elapsed,
    }


def start_server(concurrency: int, tree: Path = ROOT) -> tuple[subprocess.Popen[bytes], str]:
    """``qa serve`` of the source ``tree`` with the given answer concurrency, once it answers HTTP."""
    port = free_port()
    env = {
        **os.environ,
        "QA_CONCURRENCY": str(concurrency),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        # The tree's own package first (a baseline checkout), whatever the installed one is.
        "PYTHONPATH": str(tree),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--port", str(port)],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            # /health says ready once the model is warm; a server without it is up once its page is.
            health = httpx.get(f"{url}health", timeout=2)
            if health.status_code == 200 or (health.status_code == 404 and httpx.get(url, timeout=2).is_success):
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("qa serve did not come up within 5 minutes")


def user(client: Any, api: str, questions: list[str], until: float, tally: Tally, offset: int) -> None:
    """One person asking question after question until ``until``, through ``api`` (``rest`` or ``gradio``)."""
    number = offset
    while time.monotonic() < until:
        question = questions[number % len(questions)]
        number += 1
        started = time.perf_counter()
        try:
            if api == "rest":
                reply = client.post("api/v1/answer", json={"question": question, "k": 5})
                data = reply.json() if reply.status_code == 200 else None
            else:
                data = client.predict(question, 5, None, api_name="/ask")
            failed = not isinstance(data, dict) or bool(data.get("error"))
        except Exception:
            failed = True
        seconds = time.perf_counter() - started
        with tally.lock:
            tally.latencies.append(seconds)
            tally.errors += failed


def worker(url: str, api: str, users: int, first: int, seconds: float, questions: list[str], out: Any, go: Any) -> None:
    """One process of users (clients in one process share its interpreter lock)."""
    tally = Tally()
    # Clients connect first, one after another (a Gradio client reads the app's config), so
    # that the timed part is only asking.
    if api == "rest":
        clients: list[Any] = [httpx.Client(base_url=url, timeout=120) for _ in range(users)]
    else:
        clients = [Client(url, verbose=False) for _ in range(users)]
    out.put("ready")
    go.wait()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=user, args=(c, api, questions, until, tally, first + n)) for n, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((tally.latencies, tally.errors))


def run(url: str, api: str, users: int, seconds: float, questions: list[str], processes: int) -> dict[str, float]:
    """``users`` people, spread over ``processes`` processes, for ``seconds``; the figures of the run."""
    context = multiprocessing.get_context("spawn")
    out, go = context.Queue(), context.Event()
    shares = [users // processes + (1 if n < users % processes else 0) for n in range(processes)]
    children = [
        context.Process(target=worker, args=(url, api, share, sum(shares[:n]), seconds, questions, out, go))
        for n, share in enumerate(shares)
        if share
    ]
    for child in children:
        child.start()
    for _ in children:
        assert out.get() == "ready"
    go.set()
    started = time.monotonic()
    latencies: list[float] = []
    errors = 0
    for _ in children:
        times, failed = out.get()
        latencies += times
        errors += failed
    elapsed = time.monotonic() - started
    for child in children:
        child.join()
    return summary(latencies, errors, elapsed)


def main() -> None:
    if "--burst" in sys.argv[1:]:
        # Memory around a burst of users: benchmarks/burst.py, with the options given after it.
        sys.argv.remove("--burst")
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import burst

        burst.main()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--api", nargs="+", choices=["rest", "gradio"], default=["rest", "gradio"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--processes", type=int, default=4, help="client processes the users are spread over")
    parser.add_argument("--baseline", default=None, help="a git revision to serve too, through Gradio's /ask")
    args = parser.parse_args()
    import json

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    # The in-process rate first, on an idle machine: what an HTTP layer that costs nothing would give.
    alone = in_process(args.seconds, questions)
    runs: list[tuple[str, int, Path, list[str]]] = []
    if args.baseline:
        # The code before, checked out beside this one, served through the only API it had.
        tree = Path(tempfile.mkdtemp(prefix="qa-baseline-")) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline], cwd=ROOT, check=True)
        shutil.copytree(ROOT / "seeds", tree / "seeds", dirs_exist_ok=True)
        runs.append((f"{args.baseline[:10]} (before)", 4, tree, ["gradio"]))
    runs += [("this tree", concurrency, ROOT, args.api) for concurrency in args.concurrency]
    rows: dict[str, dict[int, dict[str, float]]] = {"in-process Index.answer, one thread": {1: alone}}
    try:
        for label, concurrency, tree, apis in runs:
            server, url = start_server(concurrency, tree)
            try:
                for api in apis:
                    name = "REST /api/v1/answer" if api == "rest" else "Gradio /ask"
                    key = f"{label}, {name}, concurrency {concurrency}"
                    rows[key] = {
                        n: run(url, api, n, args.seconds, questions, min(args.processes, n)) for n in args.users
                    }
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(runs[0][2])], cwd=ROOT, check=False)
    print(
        f"\n{args.seconds:.0f} s per run, {os.cpu_count()} cores, clients (up to {args.processes} processes) "
        "and server on one machine; in-process alone"
    )
    print("| server | users | requests | errors | p50 (s) | p95 (s) | requests/s | against in-process |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, by_users in rows.items():
        for users, row in by_users.items():
            ratio = row["per_s"] / alone["per_s"] if alone["per_s"] else float("nan")
            print(
                f"| {key} | {users} | {row['requests']} | {row['errors']} | {row['p50_s']:.3f} | "
                f"{row['p95_s']:.3f} | {row['per_s']:.1f} | {ratio:.2f}x |"
            )


if __name__ == "__main__":
    main()
