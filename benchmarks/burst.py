"""Memory of `qa serve` around a burst of users: RSS before, at the peak, and after it (issue 21).

Usage:
    python benchmarks/burst.py [--corpus seeds|squad] [--clients 64] [--asks 3]
                               [--api rest gradio] [--baseline REV]

Builds an index of the corpus (``seeds/``, or the 48 SQuAD dev articles from
``../shared/benchmarks/squad``) in a temporary folder, starts ``qa serve`` over it on a free
port of 127.0.0.1, and for each API: asks every question of the burst once, one after
another (so that every cache a burst fills is warm), waits, and reads the server's RSS
("before"); then ``--clients`` users at once (threads of this process) each ask ``--asks``
questions; after a pause it reads the RSS again ("after") and the peak (VmHWM). ``rest``
posts to ``/api/v1/answer``, ``gradio`` calls Gradio's ``/ask`` through ``gradio_client``.
With ``--baseline REV`` the same runs are made against that git revision, checked out
beside this tree (before the fix: onnxruntime's arena and the C heap kept what a burst took).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"
#: Seconds the server is left alone before its RSS is read.
SETTLE = 4.0


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def megabytes(pid: int, field: str) -> float:
    """A ``/proc/PID/status`` memory field (``VmRSS``, ``VmHWM``) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} for process {pid}")


def corpus_and_questions(kind: str, work: Path, count: int) -> tuple[Path, list[str]]:
    """The corpus folder to serve and the questions of the burst."""
    if kind == "seeds":
        questions = [json.loads(line)["question"] for line in (ROOT / "tests/data/seed_questions.jsonl").open()]
        shutil.copytree(ROOT / "seeds", work / "corpus")
        return work / "corpus", (questions * (count // len(questions) + 1))[:count]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import squad

    paths = squad.convert(SQUAD, work)
    questions = [json.loads(line)["question"] for line in paths["questions"].open()][:count]
    return paths["corpus"], questions


def serve(tree: Path, index: Path, corpus: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``qa serve`` of the source ``tree`` over ``index``, once it says it is ready."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "qa", "serve", "--port", str(port), "--index", str(index), "--corpus", str(corpus)]
    server = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}health", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit("qa serve did not come up within 5 minutes")


def ask(api: str, client: object, question: str) -> bool:
    """One question through ``api``; whether it was answered without an error."""
    try:
        if api == "rest":
            reply = client.post("api/v1/answer", json={"question": question, "k": 5})  # type: ignore[attr-defined]
            return bool(reply.status_code == 200 and not reply.json().get("error"))
        data = client.predict(question, 5, None, api_name="/ask")  # type: ignore[attr-defined]
        return isinstance(data, dict) and not data.get("error")
    except Exception:
        return False


def burst(url: str, pid: int, api: str, clients: int, asks: int, questions: list[str]) -> dict[str, float]:
    """Warm, then ``clients`` users at once; the RSS before, at the peak and after."""
    make = (lambda: httpx.Client(base_url=url, timeout=300)) if api == "rest" else (lambda: Client(url, verbose=False))
    warm = make()
    for question in questions[: clients * asks]:
        ask(api, warm, question)
    time.sleep(SETTLE)
    before = megabytes(pid, "VmRSS")
    users = [make() for _ in range(clients)]
    failed: list[bool] = []

    def user(number: int) -> None:
        for turn in range(asks):
            failed.append(not ask(api, users[number], questions[(number * asks + turn) % len(questions)]))

    started = time.monotonic()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    time.sleep(SETTLE)
    after = megabytes(pid, "VmRSS")
    return {
        "before": before,
        "peak": megabytes(pid, "VmHWM"),
        "after": after,
        "ratio": after / before,
        "seconds": seconds,
        "errors": float(sum(failed)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=["seeds", "squad"], default="seeds")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--asks", type=int, default=3, help="questions each client asks")
    parser.add_argument("--api", nargs="+", choices=["rest", "gradio"], default=["rest", "gradio"])
    parser.add_argument("--baseline", default=None, help="a git revision to measure too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-burst-"))
    corpus, questions = corpus_and_questions(args.corpus, work, args.clients * args.asks)
    index = work / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "qa", "index", str(corpus), "--out", str(index)], env=env, check=True)
    trees = [("this tree", ROOT)]
    if args.baseline:
        tree = work / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline], cwd=ROOT, check=True)
        trees.insert(0, (f"{args.baseline[:10]} (before)", tree))
    rows = []
    try:
        for label, tree in trees:
            for api in args.api:
                # A fresh server per run: what one API's burst leaves does not count against the other.
                server, url = serve(tree, index, corpus)
                try:
                    rows.append((label, api, burst(url, server.pid, api, args.clients, args.asks, questions)))
                finally:
                    server.terminate()
                    server.wait(timeout=30)
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(work / "baseline")], cwd=ROOT, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{args.corpus}: {args.clients} clients x {args.asks} questions, {os.cpu_count()} cores,"
        " clients and server on one machine"
    )
    print("| server | API | RSS before (MB) | peak (MB) | after (MB) | after / before | burst (s) | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, api, row in rows:
        print(
            f"| {label} | {api} | {row['before']:.0f} | {row['peak']:.0f} | {row['after']:.0f} | "
            f"{row['ratio']:.2f} | {row['seconds']:.1f} | {row['errors']:.0f} |"
        )


if __name__ == "__main__":
    main()
