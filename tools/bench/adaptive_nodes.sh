#!/usr/bin/env bash
# Adaptive concurrency with worker nodes whose servers differ: does each
# node's limit settle near its own knee?
#
# Three worker nodes (`evoselfcode worker --pool POOL`), each in front of
# its own `evoselfcode-sim --batch-model --kv-capacity C --overload-queue C
# --step-base-ms STEP_MS` with C = CAPACITIES (16, 32, 64): overload answers
# (503, Retry-After: 1) beyond C queued. The head: `datagen generate-names
# --workers ... --mode l2r -n 1 --num-batches REQUESTS` with
# api.concurrency.adaptive, no semaphore (each node's ceiling is its POOL,
# far above every knee), floor 1.
# A node's knee is its KV capacity C: the batch model runs at most C
# sequences at once (n = 1: C requests), so more in flight only queue; with
# a step base of 40 ms the throughput grows almost linearly up to C (a step
# is 40 + 0.25 x active ms) and not past it. (From the model, not swept:
# tools/bench/adaptive.sh sweeps one such server and finds its knee there.)
# A node's settled limit: the median of its limit (report.json
# concurrency_limit.nodes[].series, a step function) sampled every 0.1 s
# over the last third of the run.
# Goal: for every node 0.6 x knee <= settled <= 1.6 x knee ("near": the
# limit dithers around the knee by design, and a loaded machine's 1 s
# windows are noisy); and the run finishes with 0 failed.
#
# Env: BUILD_DIR, CAPACITIES ("16 32 64"), POOL (128), STEP_MS (40),
# REQUESTS (15000).
# Last line: "adaptive_nodes: ... PASS|FAIL" (exit 1 when a goal is missed).
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
bench_init adaptive_nodes
trap 'echo "adaptive_nodes: stopped by a signal" >&2; exit 130' INT TERM HUP
trap 'echo "adaptive_nodes: failed at line $LINENO" >&2' ERR
CAPACITIES=${CAPACITIES:-"16 32 64"}
POOL=${POOL:-128}
STEP_MS=${STEP_MS:-40}
REQUESTS=${REQUESTS:-15000}
T=$BENCH_TMP
FAILS=0

# One config for head and workers; the head's base_url is never used (no
# --local-pool). No semaphore: it would cap every node's limit.
bench_write_config "$T/cfg" "http://127.0.0.1:9" "$POOL" "    adaptive: true
    min: 1"
printf 'cluster:\n  grace_s: 10\n' >>"$T/cfg/datagen.yaml"
sed -i '/semaphore_size:/d' "$T/cfg/model.yaml"

# start_worker CAPACITY: a simulator and a worker in front of it; appends
# the worker's address to ADDRS and "address capacity simlog" to NODES.
ADDRS="" NODES=""
start_worker() {
  local c=$1
  bench_start_sim "$T/sim$c.out" --batch-model --kv-capacity "$c" --overload-queue "$c" \
    --step-base-ms "$STEP_MS" --log-requests "$T/sim$c.jsonl"
  bench_start_worker "$T/worker$c.out" "$T/cfg/datagen.yaml" "http://127.0.0.1:$SIM_PORT" "$POOL"
  local port=$WORKER_PORT
  ADDRS="$ADDRS${ADDRS:+,}127.0.0.1:$port"
  NODES="${NODES}127.0.0.1:$port $c $T/sim$c.jsonl
"
}

for c in $CAPACITIES; do start_worker "$c"; done
OUT="$T/out"
RC=0
timeout 600 "$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --workers "$ADDRS" \
  --mode l2r -n 1 --num-batches "$REQUESTS" --quiet --out "$OUT" >"$OUT.stdout" 2>"$OUT.stderr" || RC=$?
bench_run_ok "adaptive with ${CAPACITIES// /,}" "$RC" "$OUT/report.json" "$REQUESTS" || FAILS=$((FAILS + 1))
[ "$RC" -eq 0 ] || tail -n3 "$OUT.stderr" >&2
[ -f "$OUT/report.json" ] || bench_finish 1 "adaptive_nodes: no report"

# Per node: knee, settled limit, ratio, the limit's range, overload answers.
RESULT=$(printf '%s' "$NODES" | python3 -c '
import json, statistics, sys
rep = json.load(open(sys.argv[1]))
wall = rep["wall_s"]
nodes = {n["node"]: n for n in rep.get("concurrency_limit", {}).get("nodes", [])}
ok = True
rows = []
print("%-22s %6s %8s %6s %9s %12s %9s" % ("node", "knee", "settled", "ratio", "min-max", "requests", "overloads"))
for line in sys.stdin.read().splitlines():
    addr, cap, log = line.split()
    knee = int(cap)
    reqs = over = 0
    for l in open(log):
        reqs += 1
        over += "\"overload\"" in l
    n = nodes.get(addr)
    if n is None:
        print("%-22s %6d  no limit in report.json" % (addr, knee)); ok = False; continue
    s = n["series"]
    # the limit as a step function, sampled every 0.1 s over the last third
    samples, t, i = [], wall * 2 / 3, 0
    while t < wall:
        while i + 1 < len(s) and s[i + 1][0] <= t:
            i += 1
        samples.append(s[i][1]); t += 0.1
    settled = statistics.median(samples) if samples else 0
    ratio = settled / knee
    ok = ok and 0.6 <= ratio <= 1.6
    print("%-22s %6d %8.1f %6.2f %4d-%-4d %12d %9d" % (addr, knee, settled, ratio, n["min"], n["max"], reqs, over))
    rows.append("%d:%.0f" % (knee, settled))
print("RESULT %s %s %.1f %d %d" % ("ok" if ok else "miss", ",".join(rows), wall,
      rep["jobs"][0]["failed"], rep.get("concurrency_limit", {}).get("final", 0)))
' "$OUT/report.json")
printf '%s\n' "$RESULT" | grep -v '^RESULT'
read -r _ VERDICT PAIRS WALL FAILED SUM < <(printf '%s\n' "$RESULT" | grep '^RESULT')
echo "run: $REQUESTS requests in $WALL s, $FAILED failed; sum of the limits at the end $SUM"
[ "$VERDICT" = ok ] || { echo "FAIL: a node's settled limit is not within 0.6-1.6 x its knee" >&2; FAILS=$((FAILS + 1)); }
[ "$FAILED" = 0 ] || { echo "FAIL: $FAILED requests failed" >&2; FAILS=$((FAILS + 1)); }
bench_finish "$FAILS" "adaptive_nodes: knee:settled $PAIRS (goal 0.6-1.6 x knee each)"
