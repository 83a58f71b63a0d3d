#!/usr/bin/env bash
# A distributed run scales with its worker nodes.
#
# Each worker node is `evoselfcode worker --listen 127.0.0.1:0 --pool 8` in
# front of its own `evoselfcode-sim --latency-ms 200 --jitter-ms 0` (so one
# node serves at most 8 / 0.2 s = 40 req/s). The head is
# `evoselfcode datagen generate-names --workers host:port,... --mode l2r -n 1
# --num-batches N --quiet` with no local pool (its own base_url is never used).
# Head and workers read the same datagen.yaml + model.yaml (same
# models.default), with `cluster: grace_s: 10`.
# Runs: 1 worker with N = 400, 3 workers with N = 1200 (~10 s each).
# Figure: requests/s of each run (report.json jobs[0].requests_per_s; N / wall
# of the whole head command is printed too) and ratio = 3 workers / 1 worker.
# Goal: ratio >= 2.7.
#
# Env: BUILD_DIR (default build), POOL (8), LATENCY_MS (200), PER_WORKER (400).
# Last line: "cluster_scaling: 3 workers / 1 worker = X (goal >= 2.7) PASS|FAIL".
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
bench_init cluster_scaling
trap 'echo "cluster_scaling: stopped by a signal" >&2; exit 130' INT TERM HUP
trap 'echo "cluster_scaling: failed at line $LINENO" >&2' ERR
POOL=${POOL:-8}
LATENCY_MS=${LATENCY_MS:-200}
PER_WORKER=${PER_WORKER:-400}
T=$BENCH_TMP

# One config for head and workers. The head's base_url is a closed port: with
# --workers and no --local-pool it sends nothing itself.
bench_write_config "$T/cfg" "http://127.0.0.1:9" "$POOL"
printf 'cluster:\n  grace_s: 10\n' >>"$T/cfg/datagen.yaml"
# The head's semaphore_size caps the actors the workers lend too: the
# config bench_write_config writes sets it to one node's pool, so drop it.
sed -i '/semaphore_size:/d' "$T/cfg/model.yaml"

# start_worker I: a simulator and a worker in front of it; appends the
# worker's address to ADDRS and its pid to WPIDS, the sim's to SPIDS.
start_worker() {
  local i=$1
  bench_start_sim "$T/sim$i.out" --latency-ms "$LATENCY_MS" --jitter-ms 0 --log-requests "$T/sim$i.jsonl"
  SPIDS+=("$SIM_PID")
  bench_start_worker "$T/worker$i.out" "$T/cfg/datagen.yaml" "http://127.0.0.1:$SIM_PORT" "$POOL"
  WPIDS+=("$WORKER_PID")
  ADDRS="$ADDRS${ADDRS:+,}127.0.0.1:$WORKER_PORT"
}

printf '%-8s %9s %9s %9s %11s %9s %10s  %s\n' workers requests "wall s" "N/wall" "report rps" "ideal" efficiency "per node (sim logs)"
declare -A RPS
FAILS=0
for K in 1 3; do
  ADDRS="" WPIDS=() SPIDS=()
  for i in $(seq 1 "$K"); do start_worker "$K-$i"; done
  N=$((PER_WORKER * K))
  OUT="$T/out$K"
  RC=0
  T0=$(bench_now)
  timeout 300 "$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --workers "$ADDRS" \
    --mode l2r -n 1 --num-batches "$N" --quiet --out "$OUT" >"$OUT.stdout" 2>"$OUT.stderr" || RC=$?
  T1=$(bench_now)
  bench_run_ok "$K workers" "$RC" "$OUT/report.json" "$N" || FAILS=$((FAILS + 1))
  [ "$RC" -eq 0 ] || tail -n3 "$OUT.stderr" >&2
  REP=$(bench_json_num "$OUT/report.json" requests_per_s 2>/dev/null || true)
  WALL=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.3f", b - a }')
  NW=$(awk -v n="$N" -v w="$WALL" 'BEGIN { printf "%.1f", n / w }')
  # the figure: report.json's rate when present, else N / wall
  RPS[$K]=$(awk -v r="${REP:-$NW}" 'BEGIN { printf "%.1f", r }')
  IDEAL=$(awk -v k="$K" -v p="$POOL" -v l="$LATENCY_MS" 'BEGIN { printf "%.1f", k * p * 1000 / l }')
  EFF=$(awk -v r="${RPS[$K]}" -v i="$IDEAL" 'BEGIN { printf "%.3f", r / i }')
  PER=""
  for i in $(seq 1 "$K"); do
    PER="$PER${PER:+/}$(grep -c '"endpoint":"/v1/completions"' "$T/sim$K-$i.jsonl" 2>/dev/null || true)"
  done
  printf '%-8s %9s %9s %9s %11s %9s %10s  %s\n' "$K" "$N" "$WALL" "$NW" "${RPS[$K]}" "$IDEAL" "$EFF" "$PER"
  for p in "${WPIDS[@]}"; do bench_stop "$p"; done
  for p in "${SPIDS[@]}"; do bench_stop "$p"; done
done
RATIO=$(awk -v a="${RPS[3]}" -v b="${RPS[1]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
echo "(requests/s: report.json jobs[0].requests_per_s; ideal = workers x pool $POOL / ${LATENCY_MS} ms; goal: ratio >= 2.7)"
awk -v r="$RATIO" 'BEGIN { exit !(r >= 2.7) }' || FAILS=$((FAILS + 1))
bench_finish "$FAILS" "cluster_scaling: 3 workers / 1 worker = $RATIO (${RPS[3]} vs ${RPS[1]} req/s, goal >= 2.7)"
