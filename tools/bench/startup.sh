#!/usr/bin/env bash
# A small run costs little more than its requests.
#
# `generate-names --mode l2r --num-batches 1 -n 8` on the embedded simulator
# (api.base_url: embedded, with api.embedded.latency_ms 0 / jitter_ms 0 in a
# bench config, as the shipped model.yaml has 20 ms + jitter), into a fresh
# output folder each time. Wall time over RUNS runs (hyperfine when installed,
# one warm-up; else a bounded loop with date +%s.%N). Goal: median < 0.3 s.
#
# Env: BUILD_DIR (default build), RUNS (10), NO_HYPERFINE=1 to force the loop.
# Last line: "startup: median X s (min Y, max Z, RUNS runs)  PASS|FAIL".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init startup
RUNS=${RUNS:-10}
T=$BENCH_TMP
bench_write_config "$T/cfg" embedded 16 "  embedded:
    latency_ms: 0
    jitter_ms: 0"
CMD=("$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --mode l2r --num-batches 1 -n 8 --quiet --out "$T/out")

# one run to check it works (and warm the page cache)
rm -rf "$T/out"
"${CMD[@]}" >"$T/check.stdout" 2>"$T/check.stderr" || bench_die "generate-names failed: $(tail -n3 "$T/check.stderr")"
[ "$(bench_json_num "$T/out/report.json" done)" = 1 ] || bench_die "the request did not complete"

: >"$T/times.txt"
if command -v hyperfine >/dev/null && [ -z "${NO_HYPERFINE:-}" ]; then
  TOOL=hyperfine
  hyperfine -N --warmup 1 --runs "$RUNS" --prepare "rm -rf $T/out" --export-json "$T/hf.json" \
    "$(printf '%q ' "${CMD[@]}")" >"$T/hf.out" 2>&1 || bench_die "hyperfine failed: $(tail -n5 "$T/hf.out")"
  # the "times" array of the only result
  tr -d ' \n' <"$T/hf.json" | sed -n 's/.*"times":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' >"$T/times.txt"
else
  TOOL=loop
  for i in $(seq 1 "$RUNS"); do
    rm -rf "$T/out"
    A=$(bench_now)
    "${CMD[@]}" >/dev/null 2>&1 || bench_die "run $i failed"
    B=$(bench_now)
    awk -v a="$A" -v b="$B" 'BEGIN { printf "%.4f\n", b - a }' >>"$T/times.txt"
  done
fi
read -r MED MIN MAX N <<<"$(sort -n "$T/times.txt" | awk '{ v[NR] = $1 }
  END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.4f %.4f %.4f %d\n", m, v[1], v[NR], NR }')"
echo "wall times ($TOOL, s): $(sort -n "$T/times.txt" | awk '{ printf "%.4f ", $1 }')"
FAILS=0
awk -v m="$MED" 'BEGIN { exit !(m < 0.3) }' || FAILS=1
echo "(goal: median < 0.3 s; embedded simulator, latency 0, 1 request x 8 choices)"
bench_finish "$FAILS" "startup: median $MED s (min $MIN, max $MAX, $N runs, $TOOL)"
