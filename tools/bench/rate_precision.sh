#!/usr/bin/env bash
# The token bucket holds the rate precisely, as the server sees it.
#
# Simulator (no latency, no server-side rate limit) with --log-requests: each
# line's t_us is the wall-clock time (system_clock, microseconds since the
# epoch) at which the simulator's handler started on that request, i.e. its
# arrival as seen by the server. `generate-names --mode l2r -n 1 --rate-limit R`
# with pool 16 and api.concurrency.burst: 1 (the default, written explicitly).
# From the log (/v1/completions lines only):
#   - the largest count of arrivals in any sliding 1 s window [t, t+1s):
#     goal <= R + burst (token bucket: burst tokens at start + R per second);
#   - the span first -> last arrival vs the ideal (requests-1)/R s: goal within 1 %.
# Cases: 1000 requests at 50/s (ideal 19.98 s), 5000 requests at 500/s (ideal 9.998 s).
#
# Env: BUILD_DIR (default build), BURST (1), POOL (16), HTTP_CLIENT (native |
# libcurl: api.http_client), FAULTS + FAULT_RATE (the simulator's --faults and
# --fault-rate, e.g. FAULTS=reset FAULT_RATE=0.3). With faults the window
# bound stays rate + burst (every send pays a token) and only the window is
# judged: the span then includes retry backoff, so it is printed, not judged;
# max_retries is raised to 12 so no request fails.
# Last line: "rate_precision: 50/s max1s X span err Y%, 500/s max1s X span err Y%  PASS|FAIL".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init rate_precision
BURST=${BURST:-1}
POOL=${POOL:-16}
HTTP_CLIENT=${HTTP_CLIENT:-}
FAULTS=${FAULTS:-}
FAULT_RATE=${FAULT_RATE:-0.3}
T=$BENCH_TMP
SIM_FAULTS=()
[ -n "$FAULTS" ] && SIM_FAULTS=(--faults "$FAULTS" --fault-rate "$FAULT_RATE")

printf '%-7s %8s %9s %8s %10s %9s %8s %8s %6s\n' rate requests "max 1s" "bound" "span s" "ideal s" "err %" "429s" result
SUMMARY="" FAILS=0
for case in "50 1000" "500 5000"; do
  set -- $case
  RATE=$1 R=$2
  LOG="$T/sim-$RATE.jsonl"
  bench_start_sim "$T/sim-$RATE.out" --latency-ms 0 --jitter-ms 0 --log-requests "$LOG" "${SIM_FAULTS[@]}"
  bench_write_config "$T/cfg$RATE" "http://127.0.0.1:$SIM_PORT" "$POOL" "    burst: $BURST${HTTP_CLIENT:+
  http_client: $HTTP_CLIENT}"
  [ -n "$FAULTS" ] && sed -i 's/^  max_retries: .*/  max_retries: 12/' "$T/cfg$RATE/model.yaml"
  RC=0
  "$EVO" datagen generate-names --config "$T/cfg$RATE/datagen.yaml" --mode l2r --num-batches "$R" -n 1 \
    --concurrency "$POOL" --rate-limit "$RATE" --quiet --out "$T/out$RATE" >"$T/out$RATE.stdout" 2>"$T/out$RATE.stderr" || RC=$?
  bench_stop "$SIM_PID"
  RUN_OK=1
  bench_run_ok "rate $RATE" "$RC" "$T/out$RATE/report.json" "$R" || RUN_OK=0
  # arrival times of the completions requests, sorted
  grep '"endpoint":"/v1/completions"' "$LOG" | sed -n 's/.*"t_us":\([0-9]*\).*/\1/p' | sort -n >"$T/t-$RATE.txt"
  N429=$(grep -c '"status":429' "$LOG" || true)
  # two pointers: for each arrival j, the arrivals i with t_j - t_i < 1 s
  read -r CNT MAXW SPAN <<<"$(awk '{ t[NR] = $1 }
    END { i = 1; m = 0
          for (j = 1; j <= NR; j++) { while (t[j] - t[i] >= 1000000) i++; if (j - i + 1 > m) m = j - i + 1 }
          printf "%d %d %.4f\n", NR, m, NR ? (t[NR] - t[1]) / 1e6 : 0 }' "$T/t-$RATE.txt")"
  if [ -n "$FAULTS" ]; then
    [ "$CNT" -ge "$R" ] || { echo "FAIL: rate $RATE: $CNT arrivals logged for $R requests" >&2; RUN_OK=0; }
  else
    [ "$CNT" -eq "$R" ] || { echo "FAIL: rate $RATE: $CNT arrivals logged for $R requests" >&2; RUN_OK=0; }
  fi
  BOUND=$((RATE + BURST))
  IDEAL=$(awk -v r="$CNT" -v q="$RATE" 'BEGIN { printf "%.3f", (r - 1) / q }')
  ERR=$(awk -v s="$SPAN" -v i="$IDEAL" 'BEGIN { printf "%.2f", (s - i) / i * 100 }')
  SPAN_OK=1
  [ -z "$FAULTS" ] && ! awk -v e="$ERR" 'BEGIN { exit !(e <= 1 && e >= -1) }' && SPAN_OK=0
  if [ "$RUN_OK" -eq 1 ] && [ "$MAXW" -le "$BOUND" ] && [ "$SPAN_OK" -eq 1 ]; then RES=PASS; else RES=FAIL; FAILS=$((FAILS + 1)); fi
  printf '%-7s %8s %9s %8s %10s %9s %8s %8s %6s\n' "$RATE/s" "$R" "$MAXW" "$BOUND" "$SPAN" "$IDEAL" "$ERR" "$N429" "$RES"
  SUMMARY="$SUMMARY${SUMMARY:+, }$RATE/s max1s $MAXW (<= $BOUND) span err $ERR%"
done
[ -n "$FAULTS" ] && echo "(faults: $FAULTS at $FAULT_RATE; client ${HTTP_CLIENT:-default}; arrivals include every re-send)"
echo "(goal: max arrivals in any sliding 1 s window <= rate + burst (burst $BURST), span first->last within 1 % of (requests-1)/rate; pool $POOL)"
bench_finish "$FAILS" "rate_precision: $SUMMARY"
