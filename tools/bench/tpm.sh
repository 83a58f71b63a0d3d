#!/usr/bin/env bash
# The token budget (api.concurrency.tokens_per_minute) as the server sees it.
#
# Simulator (20 ms latency, no limits) with --log-requests: each line has the
# arrival time t_us and the request's prompt_tokens and completion_tokens as
# its answer's usage reported them. `generate-names --mode l2r` with the
# shipped namegen keys (n 8, max_new_tokens 16), pool 32, budget 60,000
# tokens per minute, enough requests for ~2.6 budgets (the run lasts just
# over two minutes: the budget, not the server, sets its pace).
# From the log (/v1/completions lines with status 200):
#   - the most tokens (prompt + completion) arriving in any sliding 60 s
#     window [t, t+60s): goal <= budget + one request's reservation
#     (prompt + max_tokens x n);
#   - the tokens arriving in each of the first two whole minutes from the
#     first arrival: goal >= 95 % of the budget each.
#
# Env: BUILD_DIR (default build), BUDGET (60000), REQUESTS (3200), POOL (32).
# Last line: "tpm: max60s X (<= B+R), minute 1 U1 %, minute 2 U2 %  PASS|FAIL".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init tpm
BUDGET=${BUDGET:-60000}
REQUESTS=${REQUESTS:-3200}
POOL=${POOL:-32}
T=$BENCH_TMP
N=8 MAX_TOKENS=16
PROMPT_TOKENS=$(( (36 + 3) / 4 )) # the shipped l2r prompt's 36 bytes / 4, as reserved
RESERVE=$((PROMPT_TOKENS + MAX_TOKENS * N))

LOG="$T/sim.jsonl"
bench_start_sim "$T/sim.out" --latency-ms 20 --jitter-ms 0 --log-requests "$LOG"
bench_write_config "$T/cfg" "http://127.0.0.1:$SIM_PORT" "$POOL" "    tokens_per_minute: $BUDGET"
START=$(bench_now)
RC=0
"$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --mode l2r --num-batches "$REQUESTS" \
  -n "$N" --concurrency "$POOL" --out "$T/out" >"$T/run.stdout" 2>"$T/run.stderr" || RC=$?
END=$(bench_now)
bench_stop "$SIM_PID"
FAILS=0
bench_run_ok "tpm" "$RC" "$T/out/report.json" "$REQUESTS" || FAILS=$((FAILS + 1))
grep '"endpoint":"/v1/completions"' "$LOG" | grep '"status":200' \
  | sed -n 's/.*"t_us":\([0-9]*\).*"prompt_tokens":\([0-9]*\),"completion_tokens":\([0-9]*\).*/\1 \2 \3/p' \
  | sort -n >"$T/tokens.txt"
# two pointers over arrivals: the heaviest window [t_i, t_i + 60 s), and the
# sums of the whole minutes [t0 + 60k, t0 + 60(k+1)).
read -r CNT TOTAL MAXW U1 U2 SPAN <<<"$(awk '{ t[NR] = $1; v[NR] = $2 + $3 }
  END { i = 1; s = 0; m = 0; tot = 0
        for (j = 1; j <= NR; j++) { s += v[j]; tot += v[j]
          while (t[j] - t[i] >= 60000000) { s -= v[i]; i++ }
          if (s > m) m = s
          k = int((t[j] - t[1]) / 60000000); if (k < 2) u[k] += v[j] }
        printf "%d %d %d %d %d %.1f\n", NR, tot, m, u[0], u[1], NR ? (t[NR] - t[1]) / 1e6 : 0 }' "$T/tokens.txt")"
[ "$CNT" -eq "$REQUESTS" ] || { echo "FAIL: $CNT answered requests logged for $REQUESTS" >&2; FAILS=$((FAILS + 1)); }
BOUND=$((BUDGET + RESERVE))
P1=$(awk -v u="$U1" -v b="$BUDGET" 'BEGIN { printf "%.1f", 100 * u / b }')
P2=$(awk -v u="$U2" -v b="$BUDGET" 'BEGIN { printf "%.1f", 100 * u / b }')
REP_RES=$(bench_json_num "$T/out/report.json" reserved)
REP_USED=$(bench_json_num "$T/out/report.json" used)
REP_UTIL=$(bench_json_num "$T/out/report.json" utilisation)
echo "budget $BUDGET tokens/min; one request reserves $RESERVE (prompt $PROMPT_TOKENS + max_tokens $MAX_TOKENS x n $N); pool $POOL; $REQUESTS requests"
printf '%-34s %s\n' "run wall s" "$(awk -v a="$START" -v b="$END" 'BEGIN { printf "%.1f", b - a }')" \
  "arrivals first->last s" "$SPAN" \
  "tokens at the server (sim log)" "$TOTAL" \
  "max tokens in any 60 s window" "$MAXW (bound $BOUND = budget + one reservation)" \
  "minute 1 (from first arrival)" "$U1 ($P1 % of budget)" \
  "minute 2" "$U2 ($P2 % of budget)" \
  "report.json reserved / used" "$REP_RES / $REP_USED (utilisation $REP_UTIL)"
[ "$MAXW" -le "$BOUND" ] || { echo "FAIL: a 60 s window holds $MAXW tokens > $BOUND" >&2; FAILS=$((FAILS + 1)); }
awk -v a="$P1" -v b="$P2" 'BEGIN { exit !(a >= 95 && b >= 95) }' \
  || { echo "FAIL: a whole minute used < 95 % of the budget" >&2; FAILS=$((FAILS + 1)); }
[ "$REP_USED" = "$TOTAL" ] || { echo "FAIL: report.json used $REP_USED != $TOTAL at the server" >&2; FAILS=$((FAILS + 1)); }
echo "(goal: no 60 s window over budget + one reservation; each whole minute >= 95 % of the budget)"
bench_finish "$FAILS" "tpm: max60s $MAXW (<= $BOUND), minute 1 $P1 %, minute 2 $P2 %"
