#!/usr/bin/env bash
# The main job: install, prepare the default data from Debian's packages (the embedded samples stand in where
# apt is unavailable), then train a LION-S two-scan ViT and a same-size softmax ViT on Fashion-MNIST and
# evaluate the LION model in all three forms. Extra arguments go to `lion showcase` (e.g. --quick, --minutes 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/lion data || echo "note: 'lion data' could not prepare everything; the embedded samples are used where needed" >&2
exec .venv/bin/lion showcase "$@"
