#!/usr/bin/env bash
# Does the host gate re-send requests a GPU-like server is merely slow on?
#
# evoselfcode-sim --batch-model (one HTTP thread per connection, so the
# server serves every connection the client opens; KV capacity 64: requests
# beyond it queue inside the server, answers come in waves, latency varies
# with the queue and with the longest of n choices) at P in flight,
# R = 4 x P requests of `generate-names --mode l2r -n N`, each HTTP client.
# Extra sends = requests the server received - requests done (a moved
# request's first copy still reaches the server); report attempts - done.
# Control row: the same client against --http-threads 8 (a server that
# serves 8 connections): moves expected there.
#
# Env: BUILD_DIR (build), IN_FLIGHT ("64 256"), N (4), BATCH_ARGS (more
# flags for the batch-model server, e.g. "--jitter-ms 1000", "--kv-capacity 16").
# Last line: "batch_hedge: extra sends with every connection served: X (PASS if 0)".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init batch_hedge
T=$BENCH_TMP
IN_FLIGHT=${IN_FLIGHT:-"64 256"}
N=${N:-4}

# run SERVER_LABEL SIM_FLAGS... ; prints rows, adds to TOTAL_EXTRA for "batch"
TOTAL_EXTRA=0
run_server() {
  local label=$1; shift
  local log="$T/$label.jsonl"
  bench_start_sim "$T/$label.out" "$@" --log-requests "$log"
  local url="http://127.0.0.1:$SIM_PORT" before=0 all_done=0
  for p in $IN_FLIGHT; do
    for c in native libcurl; do
      local r=$((4 * p)) d="$T/$label-$c-$p" rc=0
      bench_write_config "$d" "$url" "$p" "  http_client: $c"
      "$EVO" datagen generate-names --config "$d/datagen.yaml" --mode l2r --num-batches "$r" -n "$N" \
        --concurrency "$p" --quiet --out "$d/out" >/dev/null 2>"$d/err" || rc=$?
      [ "$rc" -eq 0 ] || echo "warning: $label $c P=$p exit $rc: $(tail -n2 "$d/err")" >&2
      local rep="$d/out/report.json" got done attempts p50 p99
      got=$(wc -l <"$log"); got=$((got - before)); before=$((before + got))
      done=$(bench_json_num "$rep" done)
      attempts=$(bench_json_num "$rep" attempts)
      p50=$(bench_json_num "$rep" p50)
      p99=$(bench_json_num "$rep" p99)
      printf '%-10s %-8s %5s %6s %9s %9s %12s %8s %8s\n' "$label" "$c" "$p" "$done" "$attempts" "$got" "$((got - done))" "$p50" "$p99"
      all_done=$((all_done + done))
    done
  done
  # A moved request's first copy may be logged after its run ended: the
  # server's total, once stopped, is exact.
  bench_stop "$SIM_PID"
  local total; total=$(wc -l <"$log")
  echo "$label total: server got $total, done $all_done, extra sends $((total - all_done))"
  [ "$label" = batch ] && TOTAL_EXTRA=$((total - all_done))
  return 0
}

printf '%-10s %-8s %5s %6s %9s %9s %12s %8s %8s\n' server client "P" done attempts "server got" "extra sends" "p50 ms" "p99 ms"
# shellcheck disable=SC2086
run_server batch --batch-model ${BATCH_ARGS:-}
run_server threads8 --http-threads 8 --keepalive-timeout-s 5 --keepalive-max-requests 100
echo "(batch: evoselfcode-sim --batch-model ${BATCH_ARGS:-}; threads8: --http-threads 8; l2r, n=$N, R = 4 x P)"
if [ "$TOTAL_EXTRA" -eq 0 ]; then v=PASS; else v=FAIL; fi
echo "batch_hedge: extra sends with every connection served: $TOTAL_EXTRA ($v)"
