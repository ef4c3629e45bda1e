"""A `qa index` with nothing to do, at 10^4 to 10^6 paragraphs: checksums once, then stamps.

Usage:
    python benchmarks/noop.py [--sizes 10000 1000000] [--out benchmarks/data/scale] [--before REV]

The corpora and indexes are those of benchmarks/scale.py (built here with its stand-in
embedder if they are missing), so the model is left out: what is measured is what an
update with nothing to do reads. Each measurement runs in a fresh process and times the
call itself (interpreter start and imports excluded):

- `unstamped`: `qa.update.update_index(..., verify=True)` (what `qa index` runs) with no
  stamps (`verified.json` removed first): it checks everything once, as the first update
  after a build does (the stamps a build leaves are too fresh to trust);
- `stamped`: the same again: the database and base files are as stamped, nothing is read;
- `open`: `qa.load_index`, what every `qa ask` and `qa serve` does first;
- with `--before REV` (e.g. the commit before the stamps), the same work by that revision,
  run from a temporary git worktree over the same index: its `qa index` opened the index
  to read one flag, verified every stored vector and the base checksums, and opened the
  index again at the end.

Prints one table and writes benchmarks/results/noop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

#: What each measured process runs: after the imports, the timed call.
CURRENT = """
import json, sys, time
sys.path.insert(0, {here!r})
from scale import HashEmbedder
import qa
from qa.store.runs import BuildOptions
from qa.update import update_index
corpus, out, what = sys.argv[1:4]
embedder = HashEmbedder()
started = time.perf_counter()
if what == "open":
    index = qa.load_index(out, embedder=embedder)
else:
    report = update_index(corpus, out, embedder=embedder, options=BuildOptions(verify=True))
    assert report.embedded == 0 and report.updated_files == 0, report
print(json.dumps({{"seconds": time.perf_counter() - started}}))
"""

#: The same work as the `qa index` of a revision before ``qa.update`` existed.
BEFORE = """
import json, sys, time
sys.path.insert(0, {here!r})
from scale import HashEmbedder
import qa
corpus, out, what = sys.argv[1:4]
embedder = HashEmbedder()
started = time.perf_counter()
if what == "open":
    qa.load_index(out, embedder=embedder)
else:
    qa.load_index(out, embedder=embedder)  # its CLI read the sentence flag from an opened index
    index = qa.build_index(corpus, out, embedder=embedder, verify=True)
    assert index.report.embedded == 0 and index.report.updated_files == 0, index.report
print(json.dumps({{"seconds": time.perf_counter() - started}}))
"""


def timed(script: str, corpus: Path, index: Path, what: str, path: Path | None = None) -> float:
    """Seconds the measured call took in a fresh process (``path``: the package to import instead)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    # A revision's own benchmarks/scale.py imports that revision's package.
    here = path / "benchmarks" if path is not None else HERE
    command = [sys.executable, "-c", script.format(here=str(here)), str(corpus), str(index), what]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=path or ROOT).stdout
    return float(json.loads(output.strip().splitlines()[-1])["seconds"])


def settle(index: Path) -> None:
    """Wait until every file of ``index`` is older than the racy window of the stamps."""
    from qa.store.integrity import RACY_NS

    newest = max(path.stat().st_mtime_ns for path in index.rglob("*") if path.is_file())
    time.sleep(max(0.0, (newest + RACY_NS - time.time_ns()) / 1e9 + 0.1))


def ensure_built(out: Path, size: int, squad: Path) -> tuple[Path, Path]:
    """The corpus and index of ``size`` paragraphs, built by benchmarks/scale.py if missing."""
    from scale import make_corpus
    from scale import squad as read_squad

    corpus, index = out / f"corpus-{size}", out / f"index-{size}"
    make_corpus(corpus, size, read_squad(squad)[0])
    if not (index / "index.db").is_file():
        command = [sys.executable, str(HERE / "scale.py"), "--role", "build", "--size", str(size), "--out", str(out)]
        subprocess.run([*command, "--squad", str(squad)], check=True, capture_output=True)
    return corpus, index


def main() -> None:
    from scale import DEFAULT_SQUAD

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=HERE / "data" / "scale")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--before", help="a git revision to measure the same way, over the same indexes")
    args = parser.parse_args()
    worktree: Path | None = None
    if args.before:
        worktree = Path(tempfile.mkdtemp(prefix="qa-before-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before], check=True)
    rows = []
    try:
        for size in args.sizes:
            corpus, index = ensure_built(args.out, size, args.squad)
            row: dict[str, float | int] = {"size": size}
            if worktree is not None:
                # First, so that it finds the index as the build left it.
                row["before_update_s"] = timed(BEFORE, corpus, index, "update", worktree)
                row["before_open_s"] = timed(BEFORE, corpus, index, "open", worktree)
            (index / "verified.json").unlink(missing_ok=True)
            # A stamp is trusted only if taken integrity.RACY_NS after the file's last change.
            settle(index)
            row["first_update_s"] = timed(CURRENT, corpus, index, "update")
            row["stamped_update_s"] = timed(CURRENT, corpus, index, "update")
            row["open_s"] = timed(CURRENT, corpus, index, "open")
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    print()
    before = worktree is not None
    print(
        "| paragraphs |"
        + (" before: no-op `qa index` (s) | before: open (s) |" if before else "")
        + " no-op without stamps (s) | no-op once stamped (s) | open (s) |"
    )
    print("| ---: " * (6 if before else 4) + "|")
    for r in rows:
        old = f" {r['before_update_s']:.2f} | {r['before_open_s']:.2f} |" if before else ""
        print(f"| {r['size']:,} |{old} {r['first_update_s']:.2f} | {r['stamped_update_s']:.2f} | {r['open_s']:.2f} |")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "noop.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
