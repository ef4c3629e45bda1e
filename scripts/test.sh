#!/usr/bin/env bash
# Set everything up, then run the linters and the test suite (slow benchmarks excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/ruff check qa tests benchmarks scripts
.venv/bin/ruff format --check qa tests benchmarks scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
