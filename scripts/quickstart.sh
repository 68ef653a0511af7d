#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, run the 2026 baseline.
#   bash scripts/quickstart.sh [SCENARIO]
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-scenarios/baseline_2026.yaml}

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target talentsim
./build/release/sim/talentsim run "$scenario" --force
