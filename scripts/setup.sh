#!/usr/bin/env bash
# Create .venv and install the project with everything it needs, offline model included.
# Safe to re-run: it does nothing when the dependencies have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
stamp=.venv/.qa-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)

if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Setting up .venv (first time: a few minutes) ..." >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch, pinned first: an unpinned torch pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
# The ray extra too: tests/build/test_cluster.py builds on a real two-node Ray cluster.
.venv/bin/python -m pip install --quiet -e ".[dev,ray]"
echo "$want" > "$stamp"
echo "Set-up done." >&2
