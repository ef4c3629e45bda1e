"""Cold start of the CLI: a fresh `qa ask` on a built index, a `qa index` with nothing to do, `import qa`.

Usage:
    python benchmarks/cold_start.py [--corpus seeds] [--runs 3]

Each command runs in a fresh process (as a person types it), ``--runs`` times after one
warm-up run (the operating system's file cache warm, as on a machine in use); the median
wall time is printed, process start and model load included. The index is built once in a
temporary folder first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QA = [sys.executable, "-m", "qa"]


def timed(command: list[str], runs: int) -> dict[str, float]:
    """Median and spread of the wall time of ``command`` over ``runs`` fresh processes (after a warm-up)."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run(command, check=True, capture_output=True, env=environment)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=environment)
        times.append(time.perf_counter() - started)
    return {
        "median_s": round(statistics.median(times), 2),
        "min_s": round(min(times), 2),
        "max_s": round(max(times), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-cold-") as work:
        index = Path(work) / "index"
        subprocess.run([*QA, "index", str(args.corpus), "--out", str(index), "--quiet"], check=True)
        commands = {
            "python -c 'import qa'": [sys.executable, "-c", "import qa"],
            "qa ask (built index, --no-refresh)": [
                *QA,
                "ask",
                "What library was established in Basra?",
                "--index",
                str(index),
                "--no-refresh",
            ],
            "qa ask (built index, checks for changes)": [
                *QA,
                "ask",
                "What library was established in Basra?",
                "--index",
                str(index),
                "--corpus",
                str(args.corpus),
            ],
            "qa index (nothing to do)": [*QA, "index", str(args.corpus), "--out", str(index), "--quiet"],
        }
        results = {name: timed(command, args.runs) for name, command in commands.items()}
    print(f"\n| command ({args.runs} fresh processes) | median (s) | min | max |")
    print("| --- | ---: | ---: | ---: |")
    for name, figures in results.items():
        print(f"| {name} | {figures['median_s']} | {figures['min_s']} | {figures['max_s']} |")
    save_json(HERE / "results" / "cold_start.json", results)


if __name__ == "__main__":
    main()
