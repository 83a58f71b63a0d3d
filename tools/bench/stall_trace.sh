#!/usr/bin/env bash
# What the server sees when a client opens more connections than it serves.
#
# One run of `generate-names --mode l2r -n 1` (R requests, P in flight,
# api.http_client CLIENT) against evoselfcode-sim --http-threads 8
# (keep-alive timeout KEEPALIVE_S, 100 requests per connection), then the
# simulator's request log summarised per connection (peer port): how many
# requests each carried, and when the requests arrived (seconds after the
# first), which shows the keep-alive steps.
#
# Usage: stall_trace.sh [P=32] [R=400] [CLIENT=native]   Env: BUILD_DIR, KEEPALIVE_S (5),
# SIM_EXTRA (more simulator flags, e.g. "--latency-ms 8 --max-concurrency 4").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init stall_trace
P=${1:-32} R=${2:-400} CLIENT=${3:-native}
KEEPALIVE_S=${KEEPALIVE_S:-5}
T=$BENCH_TMP
bench_start_sim "$T/sim.out" --http-threads 8 --keepalive-timeout-s "$KEEPALIVE_S" --keepalive-max-requests 100 \
  --log-requests "$T/log.jsonl" ${SIM_EXTRA:-}
bench_write_config "$T/cfg" "http://127.0.0.1:$SIM_PORT" "$P" "  http_client: $CLIENT"
T0=$(bench_now)
RC=0
"$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --mode l2r --num-batches "$R" -n 1 \
  --concurrency "$P" --quiet --out "$T/out" >/dev/null 2>"$T/stderr" || RC=$?
T1=$(bench_now)
echo "evoselfcode ($CLIENT) P=$P R=$R: exit $RC, wall $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }') s," \
  "p50 $(bench_json_num "$T/out/report.json" p50) ms, p99 $(bench_json_num "$T/out/report.json" p99) ms"
# Summarise the log (awk: no dependency beyond coreutils).
awk -F'[,:]' '
  { for (i = 1; i < NF; i++) { if ($i ~ /"t_us"$/) t = $(i + 1) + 0; if ($i ~ /"peer_port"$/) p = $(i + 1) + 0 }
    n++; per[p]++; ts[n] = t; if (n == 1 || t < t0) t0 = t }
  END {
    for (p in per) { conns++; hist[per[p]]++ }
    printf "server log: %d requests on %d connections; requests per connection (count x connections):", n, conns
    for (k in hist) printf " %dx%d", k, hist[k]
    printf "\n"
    # arrivals per 0.5 s bucket after the first
    for (i = 1; i <= n; i++) { b = int((ts[i] - t0) / 500000); arr[b]++; if (b > last) last = b }
    printf "arrivals per 0.5 s after the first (bucket start s: count):"
    for (b = 0; b <= last; b++) if (arr[b]) printf " %.1f:%d", b / 2, arr[b]
    printf "\n"
  }' "$T/log.jsonl"
