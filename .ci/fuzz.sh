#!/usr/bin/env bash
# CI: the libFuzzer targets (tests/fuzz), built with clang++-14 and
# -fsanitize=fuzzer,address,undefined in build-fuzz, each run for a bounded
# time on a copy of its seed corpus (tests/fuzz/corpus/<target>, plus the
# regressions). A crash, leak, sanitizer report or broken property exits
# non-zero; the input is left in build-fuzz/findings/<target>/ — add it to
# tests/fuzz/regressions/<target>/ once understood.
# Usage: .ci/fuzz.sh [seconds per target]   (default 60; EVO_FUZZ_SECONDS too)
# EVO_FUZZ_RUNS / EVO_FUZZ_SEED: with a run count and a fixed seed (what CI
# uses) the same binary explores the same inputs every time, so CI does not
# pass or fail by luck; fuzz longer without them to find new inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-${EVO_FUZZ_SECONDS:-60}}"
jobs="${EVO_JOBS:-$(nproc)}"
targets=(fuzz_response fuzz_config fuzz_name fuzz_http1)

t0=$(date +%s)
cmake -S . -B build-fuzz -DEVO_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"
echo "=== fuzz build took $(( $(date +%s) - t0 ))s"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for t in "${targets[@]}"; do
  # Absolute paths: fuzz_config changes into a scratch folder.
  work="$PWD/build-fuzz/corpus/$t"
  findings="$PWD/build-fuzz/findings/$t"
  mkdir -p "$work" "$findings"
  cp -f tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  find tests/fuzz/regressions/"$t" -type f ! -name '.keep' ! -name README.md \
       -exec cp -f {} "$work"/ \; 2>/dev/null || true
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="$PWD/tests/fuzz/$t.dict")
  t1=$(date +%s)
  echo "=== $t for ${secs}s"
  repeat=()
  [[ -n "${EVO_FUZZ_RUNS:-}" ]] && repeat+=(-runs="$EVO_FUZZ_RUNS")
  [[ -n "${EVO_FUZZ_SEED:-}" ]] && repeat+=(-seed="$EVO_FUZZ_SEED")
  if ! build-fuzz/"$t" "${dict[@]}" "${repeat[@]}" -max_total_time="$secs" -timeout=10 \
         -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
         -artifact_prefix="$findings/" "$work" 2>"build-fuzz/$t.log"; then
    echo "!!! $t found a problem (input in $findings/):"
    grep -E 'ERROR|SUMMARY|property violated|uncaught|Test unit written' \
         "build-fuzz/$t.log" | head -20
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "build-fuzz/$t.log" | tail -2 || true
  echo "=== $t took $(( $(date +%s) - t1 ))s"
done
exit "$status"
