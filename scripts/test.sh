#!/usr/bin/env bash
# Quick start, step 2: install what is missing, build everything and run the
# whole test suite. CI runs exactly this (.ci/run):
#   1. release: C++ unit, statistical, CLI and hostile-input tests, and the
#      Python checks of the results files;
#   2. mpi: the MPI build under `mpirun -n 1, 2, 3` against one process,
#      bit for bit, and --resume after a rank or the whole job dies;
#   3. asan: the same suite as 1 again under AddressSanitizer + UBSan;
#   4. tsan: the threaded runner's tests under ThreadSanitizer, against a
#      oneTBB built with TSan (scripts/tsan-tbb.sh);
#   5. a 60-second libFuzzer smoke of the scenario loader and --set.
#
#   bash scripts/test.sh             all of the above
#   bash scripts/test.sh PRESET      one preset: release, debug, mpi, asan or tsan
#   bash scripts/test.sh fuzz [S]    the fuzzers only, S seconds each (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

bash scripts/install-deps.sh

run_preset() {
  local preset=$1
  shift
  echo "==== $preset" >&2
  cmake --preset "$preset" "$@" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
}
run_tsan() { run_preset tsan -DTBB_DIR="$(bash scripts/tsan-tbb.sh)"; }
run_fuzz() {
  echo "==== fuzz" >&2
  bash tests/fuzz/run.sh "${1:-60}"
}

case $what in
  all)
    run_preset release
    run_preset mpi
    run_preset asan
    run_tsan
    run_fuzz 60
    ;;
  tsan) run_tsan ;;
  fuzz) run_fuzz "${2:-60}" ;;
  *) run_preset "$what" ;;
esac
