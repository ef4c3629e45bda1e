"""Hostile files and damage under a server, before and after issue 21: what happens, measured.

Usage:
    python benchmarks/hostile.py [--before REV] [--limit SECONDS] [--cases bomb docx line damage moved]

Each case runs twice, against ``--before`` (a git revision checked out beside this tree,
default 514385e: the last commit before issue 21) and against this tree, in fresh processes:

* ``bomb``: ``qa index`` of a folder holding the 1.4 KB PDF whose form objects draw each other
  10⁶ times (``scripts/make_samples.py``), a text file and a good PDF; ``bomb4`` the same
  nested one level deeper (10⁸ draws);
* ``docx``: the same with a small Word document that unpacks to 60 MB of text in 99,391 paragraphs;
  ``docx2`` one of another shape, chosen after the bounds were set (nothing was tuned on it):
  60 MB of text in 15,000 paragraphs of 4,000 characters, under the paragraph bound;
* ``line``: one 5.5 MB line of text, read as the index reads it: paragraphs and the longest;
* ``damage``: ``qa serve`` over an index with a frozen base (three copies of the SQuAD dev
  articles), 8 questions asked, then the vector file truncated to half or its second half
  overwritten in place, the 8 asked again: did the server live, did the answers change;
* ``moved``: ``mv A B; qa index B --out idx; qa ask --index idx``.

A run still going after ``--limit`` seconds (default 180) is stopped and said so; no run may
take more than 8 GB of address space (the machine is protected from the "before" runs). Prints
one table row per case and tree.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import make_samples  # noqa: E402

SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"


#: Address space a benchmarked process may take: a "before" run must not take the machine down.
MEMORY_CAP = 8 * 2**30


def _cap_memory() -> None:
    """In the child, before it runs: at most :data:`MEMORY_CAP` of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(tree: Path, args: list[str], cwd: Path, limit: float) -> dict[str, object]:
    """``python -m qa ARGS`` of ``tree``: seconds, exit, output tail, peak memory; stopped past ``limit``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tree), "NO_COLOR": "1"}
    out = cwd / f".out-{time.monotonic_ns()}"
    with out.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "qa", *args],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_cap_memory,
        )
        started = time.monotonic()
        stopped = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > limit:
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                stopped = True
                break
            time.sleep(0.2)
    seconds = time.monotonic() - started
    text = out.read_text(errors="replace").replace("\r", "\n")
    lines = [line for line in text.splitlines() if line.strip() and "it/s]" not in line and "text/s]" not in line]
    return {
        "seconds": seconds,
        "code": "stopped" if stopped else os.waitstatus_to_exitcode(status),
        "peak_mb": usage.ru_maxrss / 1024,
        "lines": lines,
    }


def files_case(tree: Path, work: Path, hostile: tuple[str, bytes], limit: float) -> str:
    """``qa index`` of a hostile file beside good ones: time, exit, what was said of it."""
    corpus = work / "corpus"
    shutil.rmtree(work, ignore_errors=True)
    corpus.mkdir(parents=True)
    (corpus / hostile[0]).write_bytes(hostile[1])
    (corpus / "good.txt").write_text("Grain ships sailed from Basra.\n\nThe harbour was busy all year.\n")
    (corpus / "report.pdf").write_bytes(make_samples.pdf_bytes())
    result = run(tree, ["index", "corpus", "--out", "idx"], work, limit)
    said = [line.strip() for line in result["lines"] if hostile[0] in line or "Indexed" in line]  # type: ignore[attr-defined]
    outcome = "stopped by the benchmark, nothing indexed" if result["code"] == "stopped" else f"exit {result['code']}"
    return f"{result['seconds']:.1f} s, peak {result['peak_mb']:.0f} MB, {outcome}; " + " / ".join(said)[:400]


def line_case(tree: Path, work: Path, limit: float) -> str:
    """How a 5.5 MB line is read: paragraphs, the longest, windows of the default model."""
    work.mkdir(parents=True, exist_ok=True)
    line = ("The harbour master logged every grain ship that reached the quay before noon. " * 70_000).strip()
    (work / "line.txt").write_text(line)
    code = (
        "import sys, json; from qa.ingest.files import load;"
        "r = load('line.txt', open('line.txt','rb').read());"
        "n = sorted({p.paragraph for p in r.passages})[:3];"
        "print(json.dumps([len(r.passages), max(len(p.text) for p in r.passages), n]))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=limit
    )
    passages, longest, numbers = json.loads(done.stdout.strip().splitlines()[-1])
    return (
        f"{passages} passages cited as paragraph(s) {numbers}, the longest {longest:,} characters"
        f" ({time.monotonic() - started:.1f} s)"
    )


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


QUESTIONS = [
    "What did the Normans do in France?",
    "Who won Super Bowl 50?",
    "What is the capital of Warsaw province?",
    "What are the main forms of precipitation?",
    "Where is the Amazon rainforest?",
    "Who discovered oxygen?",
    "What is a prime number?",
    "What does the Victoria and Albert Museum hold?",
]


def damage_case(tree: Path, index: Path, corpus: Path, damage: str, work: Path) -> str:
    """Serve a copy of ``index``, ask, damage its vector file, ask again."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(index, work / "idx")
    base = next((work / "idx").glob("vectors-*.faiss"))
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tree), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qa",
            "serve",
            "--port",
            str(port),
            "--index",
            str(work / "idx"),
            "--corpus",
            str(corpus),
        ],
        cwd=tree,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)

        def answers() -> list[tuple[bool, str]] | None:
            got = []
            for question in QUESTIONS:
                try:
                    body = httpx.post(f"{url}/api/v1/answer", json={"question": question}, timeout=60).json()
                except httpx.HTTPError:
                    return None
                quotes = body.get("quotes") or []
                got.append(
                    (bool(body.get("found")), f"{quotes[0]['source']}#{quotes[0]['paragraph']}" if quotes else "")
                )
            return got

        before = answers()
        size = base.stat().st_size
        if damage == "truncated":
            os.truncate(base, size // 2)
        else:
            with base.open("r+b") as handle:
                handle.seek(size // 2)
                handle.write(os.urandom(size - size // 2))
        after = answers()
        time.sleep(1)
        code = server.poll()
        if after is None or code is not None:
            died = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit {code}"
            return f"server gone ({died}) at the first question after the damage"
        changed = sum(a != b for a, b in zip(before or [], after, strict=False))
        confident_wrong = sum(a[0] and a != b for a, b in zip(after, before or [], strict=False))
        warned = sum(
            "changed on disk" in line for line in (work / "server.log").read_text(errors="replace").splitlines()
        )
        return (
            f"server alive; {changed} of {len(QUESTIONS)} answers changed ({confident_wrong} found=true with another"
            f" passage); {warned} warning line(s) in its log"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def moved_case(tree: Path, work: Path, limit: float) -> str:
    """``mv A B; qa index B --out idx; qa ask --index idx``."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "seeds", work / "A")
    run(tree, ["index", "A", "--out", "idx"], work, limit)
    (work / "A").rename(work / "B")
    indexed = run(tree, ["index", "B", "--out", "idx"], work, limit)
    asked = run(tree, ["ask", "Where is Basra?", "--index", "idx"], work, limit)
    said = " / ".join(indexed["lines"][-2:])  # type: ignore[index]
    first = next((line for line in asked["lines"] if "[1]" in line or "error" in line), "")  # type: ignore[attr-defined]
    return f"qa index B: exit {indexed['code']}: {said[:220]} | qa ask: exit {asked['code']}: {first[:160]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="514385e")
    parser.add_argument("--limit", type=float, default=180.0)
    parser.add_argument("--cases", nargs="+", default=["bomb", "bomb4", "docx", "docx2", "line", "damage", "moved"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-hostile-"))
    bomb, bomb4, docx = make_samples.form_bomb_pdf(), make_samples.form_bomb_pdf(depth=4), make_samples.long_docx()
    docx2 = make_samples.long_docx(paragraphs=15_000, characters=4_000)
    files = {
        "bomb": ("bomb.pdf", bomb),
        "bomb4": ("bomb4.pdf", bomb4),
        "docx": ("long.docx", docx),
        "docx2": ("wide.docx", docx2),
    }
    before = work / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before], cwd=ROOT, check=True)
    trees = [(f"before ({args.before})", before), ("after (this tree)", ROOT)]
    rows: list[tuple[str, str, str]] = []
    try:
        index = corpus = None
        if "damage" in args.cases:
            # Three copies of the SQuAD dev articles: enough windows for a frozen base file.
            sys.path.insert(0, str(ROOT / "benchmarks"))
            import squad

            corpus = work / "squad3"
            single = squad.convert(SQUAD, work / "squad")["corpus"]
            for copy in ("a", "b", "c"):
                shutil.copytree(single, corpus / copy)
            run(ROOT, ["index", str(corpus), "--out", str(work / "squad-index")], work, 3600)
            index = work / "squad-index"
        for label, tree in trees:
            for case in args.cases:
                scratch = work / f"{case}-{tree.name}"
                if case in files:
                    hostile = files[case]
                    rows.append((case, label, files_case(tree, scratch, hostile, args.limit)))
                elif case == "line":
                    rows.append((case, label, line_case(tree, scratch, args.limit)))
                elif case == "damage":
                    for damage in ("truncated", "overwritten"):
                        assert index is not None and corpus is not None
                        outcome = damage_case(tree, index, corpus, damage, scratch)
                        rows.append((f"vector file {damage} under qa serve", label, outcome))
                elif case == "moved":
                    rows.append((case, label, moved_case(tree, scratch, args.limit)))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print("\nfiles: " + ", ".join(f"{name} {len(raw):,} bytes" for name, raw in files.values()))
    print("| case | tree | what happened |")
    print("| --- | --- | --- |")
    for case, label, outcome in rows:
        print(f"| {case} | {label} | {outcome.replace('|', '/')} |")


if __name__ == "__main__":
    main()
