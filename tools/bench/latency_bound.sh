#!/usr/bin/env bash
# At a fixed server latency the pipeline must keep its pool busy.
#
# Simulator with --latency-ms 100 --jitter-ms 0 (no rate limit, no faults);
# `generate-names --mode l2r -n 1` with pool P for R requests. The ideal wall
# time is ceil(R/P) * 0.1 s; the measured wall time is the whole command
# (process start-up and shutdown included, date +%s.%N around it).
# efficiency = ideal / wall. Goal >= 0.97 for (P=10, R=500) and (P=64, R=2000).
#
# Env: BUILD_DIR (default build), LATENCY_MS (100).
# A run that failed or did fewer than R requests is a FAIL whatever its time.
# Last line: "latency_bound: efficiency pool10 X, pool64 Y  PASS|FAIL";
# exit status 1 on FAIL.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init latency_bound
LATENCY_MS=${LATENCY_MS:-100}
T=$BENCH_TMP
bench_start_sim "$T/sim.out" --latency-ms "$LATENCY_MS" --jitter-ms 0
URL="http://127.0.0.1:$SIM_PORT"

printf '%-5s %9s %9s %9s %11s %8s %6s\n' pool requests "ideal s" "wall s" efficiency "req/s" result
SUMMARY="" FAILS=0
for case in "10 500" "64 2000"; do
  set -- $case
  P=$1 R=$2
  bench_write_config "$T/cfg$P" "$URL" "$P"
  IDEAL=$(awk -v r="$R" -v p="$P" -v l="$LATENCY_MS" 'BEGIN { b = int((r + p - 1) / p); printf "%.3f", b * l / 1000 }')
  RC=0
  T0=$(bench_now)
  "$EVO" datagen generate-names --config "$T/cfg$P/datagen.yaml" --mode l2r --num-batches "$R" -n 1 \
    --concurrency "$P" --quiet --out "$T/out$P" >"$T/out$P.stdout" 2>"$T/out$P.stderr" || RC=$?
  T1=$(bench_now)
  RUN_OK=1
  bench_run_ok "pool $P" "$RC" "$T/out$P/report.json" "$R" || RUN_OK=0
  [ "$RC" -eq 0 ] || tail -n3 "$T/out$P.stderr" >&2
  WALL=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.3f", b - a }')
  EFF=$(awk -v i="$IDEAL" -v w="$WALL" 'BEGIN { printf "%.3f", i / w }')
  RPS=$(awk -v r="$R" -v w="$WALL" 'BEGIN { printf "%.1f", r / w }')
  if [ "$RUN_OK" -eq 1 ] && awk -v e="$EFF" 'BEGIN { exit !(e >= 0.97) }'; then RES=PASS; else RES=FAIL; FAILS=$((FAILS + 1)); fi
  printf '%-5s %9s %9s %9s %11s %8s %6s\n' "$P" "$R" "$IDEAL" "$WALL" "$EFF" "$RPS" "$RES"
  SUMMARY="$SUMMARY${SUMMARY:+, }pool$P $EFF"
done
echo "(goal: efficiency = ideal / wall >= 0.97; latency ${LATENCY_MS} ms, jitter 0, wall includes start-up)"
bench_finish "$FAILS" "latency_bound: efficiency $SUMMARY"
