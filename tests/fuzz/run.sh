#!/usr/bin/env bash
# Fuzzes the scenario loader and --set with libFuzzer (+ ASan, UBSan).
#   bash tests/fuzz/run.sh SECONDS
# Installs clang-14 and libFuzzer when missing (scripts/install-deps.sh),
# builds fuzz_scenario and fuzz_set in build/fuzz, copies the seed corpus
# (tests/fuzz/corpus/<target>) into a scratch working corpus, and runs every
# target for SECONDS seconds, all at once, one per core. Prints executions,
# speed, coverage and corpus size per target; exits non-zero, naming the
# reproducer and how to rerun it, when any target found a crash, a leak, a
# timeout or an out-of-memory. Works from any directory.
#
# Environment:
#   TALENTSIM_FUZZ_WORK   scratch directory to use and keep (default: a fresh
#                         one under $TMPDIR, removed when nothing was found)
#   TALENTSIM_FUZZ_JOBS   build jobs (default 1)
#   TALENTSIM_FUZZ_FLAGS  extra libFuzzer flags for every target
set -euo pipefail

usage() { echo "usage: bash tests/fuzz/run.sh SECONDS" >&2; exit 2; }
[ $# -eq 1 ] || usage
secs=$1
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build/fuzz"
targets=(fuzz_scenario fuzz_set)
# Longest input per target: whole scenario files up to 16 KiB (the larger
# what-if seeds are cut there), a few lines of --set for fuzz_set.
declare -A max_len=([fuzz_scenario]=16384 [fuzz_set]=4096)
declare -A corpus=([fuzz_scenario]=scenario [fuzz_set]=set)

# 1. Compiler and libFuzzer (Debian 12: clang-14, libclang-rt-14-dev).
have_toolchain() {
  command -v clang-14 >/dev/null && command -v clang++-14 >/dev/null &&
    compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null
}
if ! have_toolchain; then
  echo "fuzz: clang-14 or libFuzzer missing; running scripts/install-deps.sh"
  bash "$root/scripts/install-deps.sh"
  have_toolchain || { echo "fuzz: clang-14 with libFuzzer still not found" >&2; exit 1; }
fi

# 2. Build the fuzz targets only, with their own build tree.
echo "fuzz: building ${targets[*]} in $build"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DTALENTSIM_FUZZ=ON >/dev/null
cmake --build "$build" --target "${targets[@]}" -j "${TALENTSIM_FUZZ_JOBS:-1}"

# 3. Scratch working corpus: generated inputs never land in the repository.
if [ -n "${TALENTSIM_FUZZ_WORK:-}" ]; then
  work=$TALENTSIM_FUZZ_WORK
  keep=1
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/talentsim-fuzz.XXXXXX")
  keep=0
fi
read -r -a extra <<<"${TALENTSIM_FUZZ_FLAGS:-}"

# 4. Every target at once, one per core, each for $secs seconds.
cores=$(nproc 2>/dev/null || echo 1)
declare -A rc
run_target() {
  local t=$1 dir="$work/$1"
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len="${max_len[$t]}" -dict="$here/scenario.dict" -artifact_prefix="$dir/artifacts/" \
    -print_final_stats=1 ${extra[@]+"${extra[@]}"} "$dir/corpus" >"$dir/log" 2>&1
}
batch=()
wait_batch() {
  local t
  for t in ${batch[@]+"${batch[@]}"}; do
    rc[$t]=0
    wait "${pid[$t]}" || rc[$t]=$?
  done
  batch=()
}
declare -A pid
for t in "${targets[@]}"; do
  dir="$work/$t"
  [ -x "$build/tests/fuzz/$t" ] || { echo "fuzz: $t was not built" >&2; exit 1; }
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$here/corpus/${corpus[$t]}/." "$dir/corpus/"
  [ ${#batch[@]} -lt "$cores" ] || wait_batch
  echo "fuzz: $t for ${secs}s, corpus $dir/corpus, log $dir/log"
  run_target "$t" &
  pid[$t]=$!
  batch+=("$t")
done
wait_batch

# 5. Summary and verdict.
failed=0
for t in "${targets[@]}"; do
  dir="$work/$t"
  log="$dir/log"
  exe="$build/tests/fuzz/$t"
  stat_of() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  # The last status line: "#N ... cov: C ft: F ..."; with -fork=N there are
  # no final stats, so executions come from it and speed is their average.
  last=$(grep -a -E '^#[0-9]+' "$log" | grep -a 'cov:' | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  execs=$(stat_of number_of_executed_units)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  speed=$(stat_of average_exec_per_sec)
  [ -n "$speed" ] || [ -z "$execs" ] || speed=$((execs / secs))
  files=$(find "$dir/corpus" -type f | wc -l)
  bytes=$(du -sb "$dir/corpus" | cut -f1)
  printf 'fuzz: %-13s execs %s  execs/s %s  cov %s  ft %s  new units %s  corpus %s files, %s bytes  peak rss %s MB  rc %s\n' \
    "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$(stat_of new_units_added | grep . || echo ?)" \
    "$files" "$bytes" "$(stat_of peak_rss_mb | grep . || echo ?)" "${rc[$t]}"
  mapfile -t found < <(find "$dir/artifacts" -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
  if [ "${rc[$t]}" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    failed=1
    echo "fuzz: $t FAILED (exit ${rc[$t]}); the report:" >&2
    pattern='^==[0-9]+==|==fuzz== BUG|^SUMMARY|runtime error|ERROR: libFuzzer|terminate called'
    if grep -a -q -E "$pattern" "$log"; then
      grep -a -E -A 25 "$pattern" "$log" | head -n 60 >&2 || true
    else
      tail -n 40 "$log" >&2
    fi
    for f in ${found[@]+"${found[@]}"}; do
      echo "fuzz:   reproducer $f" >&2
      echo "fuzz:   rerun:     $exe $f" >&2
      echo "fuzz:   minimise:  $exe -minimize_crash=1 -runs=100000 -exact_artifact_path=$f.min $f" >&2
    done
    [ ${#found[@]} -gt 0 ] || echo "fuzz:   no reproducer saved; full log: $log" >&2
  fi
done

if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED; working corpus and logs kept in $work" >&2
  exit 1
fi
if [ "$keep" -eq 1 ]; then
  echo "fuzz: OK; working corpus and logs in $work"
else
  rm -rf "$work"
  echo "fuzz: OK (nothing found in ${secs}s per target)"
fi
