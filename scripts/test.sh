#!/usr/bin/env bash
# The test command: ruff, mypy (ops, layers, models; settings in pyproject.toml), then the test suite
# (tests marked `slow` are excluded; run them with `-m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check lion_attn tests benchmarks
.venv/bin/ruff format --check lion_attn tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
