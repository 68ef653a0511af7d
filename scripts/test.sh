#!/usr/bin/env bash
# Quick start, step 2: install what is missing, build everything and run the
# whole test suite (C++ unit, statistical and CLI tests, and the Python
# checks of the results file). CI runs exactly this (.ci/run).
#   bash scripts/test.sh [PRESET]      PRESET: release (default), debug, asan
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}

bash scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
