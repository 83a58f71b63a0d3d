#!/usr/bin/env bash
# The batch-model simulator's throughput/latency curve.
#
# evoselfcode-sim --batch-model with its defaults (step 10 ms + 0.25 ms per
# active sequence, KV capacity 64) and --overload-queue Q (256); at fixed
# concurrencies 1, 2, 4, ..., 512: R = max(200, 4 x P) requests of
# `generate-names --mode l2r -n 1` (the shipped datagen config: names of a
# few tokens). Per setting: req/s and completion tokens/s over the run's
# report wall (report.json), p50/p99 latency, and the overload answers
# (503s) the simulator logged. The knee is where tokens/s stops growing
# while latency keeps growing.
#
# Env: BUILD_DIR (build), SIM_ARGS (extra simulator flags), OVERLOAD_QUEUE (256),
# CONCURRENCIES ("1 2 4 8 16 32 64 128 256 512").
# Last line: "batch_curve: best tokens/s X at P (p50 Y ms)".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init batch_curve
T=$BENCH_TMP
OVERLOAD_QUEUE=${OVERLOAD_QUEUE:-256}
CONCURRENCIES=${CONCURRENCIES:-"1 2 4 8 16 32 64 128 256 512"}
# shellcheck disable=SC2086
bench_start_sim "$T/sim.out" --batch-model --overload-queue "$OVERLOAD_QUEUE" --log-requests "$T/log.jsonl" ${SIM_ARGS:-}
URL="http://127.0.0.1:$SIM_PORT"

printf '%9s %9s %8s %10s %9s %9s %9s\n' "in flight" requests "req/s" "tokens/s" "p50 ms" "p99 ms" "503s"
BEST_TPS=0 BEST_P=0 BEST_P50=0
for P in $CONCURRENCIES; do
  R=$((4 * P > 200 ? 4 * P : 200))
  bench_write_config "$T/cfg$P" "$URL" "$P"
  BEFORE=$(grep -c '"fault":"overload"' "$T/log.jsonl" 2>/dev/null || true)
  RC=0
  "$EVO" datagen generate-names --config "$T/cfg$P/datagen.yaml" --mode l2r --num-batches "$R" -n 1 \
    --concurrency "$P" --quiet --out "$T/out$P" >/dev/null 2>"$T/err$P" || RC=$?
  [ "$RC" -eq 0 ] || echo "warning: P=$P exit $RC: $(tail -n2 "$T/err$P")" >&2
  AFTER=$(grep -c '"fault":"overload"' "$T/log.jsonl" 2>/dev/null || true)
  REP="$T/out$P/report.json"
  WALL=$(bench_json_num "$REP" wall_s)
  TOK=$(bench_json_num "$REP" completion_tokens)
  DONE=$(bench_json_num "$REP" done)
  P50=$(bench_json_num "$REP" p50)
  P99=$(bench_json_num "$REP" p99)
  RPS=$(awk -v d="$DONE" -v w="$WALL" 'BEGIN { printf "%.1f", d / w }')
  TPS=$(awk -v t="$TOK" -v w="$WALL" 'BEGIN { printf "%.0f", t / w }')
  printf '%9s %9s %8s %10s %9s %9s %9s\n' "$P" "$DONE/$R" "$RPS" "$TPS" "$P50" "$P99" "$((AFTER - BEFORE))"
  if awk -v a="$TPS" -v b="$BEST_TPS" 'BEGIN { exit !(a > b) }'; then BEST_TPS=$TPS BEST_P=$P BEST_P50=$P50; fi
done
echo "(simulator: --batch-model --overload-queue $OVERLOAD_QUEUE ${SIM_ARGS:-}; client: evoselfcode native, l2r, n=1)"
echo "batch_curve: best tokens/s $BEST_TPS at $BEST_P in flight (p50 $BEST_P50 ms)"
