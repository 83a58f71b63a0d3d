#!/usr/bin/env bash
# Adaptive concurrency against the batch-model simulator.
#
# 1. evoselfcode-sim --batch-model --kv-capacity 64 --overload-queue 256
#    (step 10 ms + 0.25 ms per active sequence): fixed concurrencies 1, 2,
#    4, ..., 512 (R = min(3000, max(200, 16 x P)) requests of `generate-names --mode l2r
#    -n 1`, names of ~5 tokens) give the best fixed throughput T* (completion
#    tokens/s) and its p50 L*; then one adaptive run (ceiling 512,
#    ADAPTIVE_REQUESTS requests). Throughput and p50 come from the
#    simulator's log (arrival to answer, 200s), over the middle 20-80 % of a
#    fixed run's time span and 40-90 % of the adaptive run's (after its
#    start-up). Goals: adaptive >= 0.95 T*, p50 <= 1.3 L*, 0 failed, while
#    fixed 512 sees overload answers (503).
# 2. The same at capacity 32 (fixed 16..128) for the best throughput there;
#    then a simulator with --capacity-schedule "0:64,20:32,40:64" and one
#    adaptive run over it: after each change, the seconds until a 2 s rolling
#    throughput is within 10 % of that phase's best (goal <= 10 s), the
#    throughput and p50 from 10 s after the change on, and 0 failed.
# 3. (python3-aiohttp present) free text with variable completion lengths
#    (no stop strings, max_tokens 64): the Python tool's way (waves of P
#    requests, each waiting for its slowest, n=1) vs evoselfcode at fixed P
#    and adaptive, completions/s side by side on one simulator.
#
# Env: BUILD_DIR, CONCURRENCIES, ADAPTIVE_REQUESTS (8000), WAVE_P (64).
# Last line: "adaptive: ... PASS|FAIL" (exit 1 when a goal is missed or a run
# failed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init adaptive
T=$BENCH_TMP
HERE="$(cd "$(dirname "$0")" && pwd)"
LOGPY="$HERE/adaptive_log.py"
CONCURRENCIES=${CONCURRENCIES:-"1 2 4 8 16 32 64 128 256 512"}
ADAPTIVE_REQUESTS=${ADAPTIVE_REQUESTS:-8000}
WAVE_P=${WAVE_P:-64}
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# run LABEL DIR LOG REQUESTS CLI_ARGS...: one generate-names run; sets
# FIRST/LAST (its lines of LOG), RC and REP.
run() {
  local label=$1 dir=$2 log=$3 req=$4; shift 4
  FIRST=$(( $(lines "$log") + 1 ))
  RC=0
  "$EVO" datagen generate-names --config "$dir/datagen.yaml" --mode l2r --num-batches "$req" -n 1 \
    --quiet --out "$dir/out" "$@" >/dev/null 2>"$dir/err" || RC=$?
  LAST=$(lines "$log")
  REP="$dir/out/report.json"
  [ "$RC" -eq 0 ] || echo "warning: $label: exit $RC: $(tail -n2 "$dir/err")" >&2
}

# sweep LOG URL LABEL P...: fixed runs; sets BEST_TPS, BEST_P, BEST_P50,
# BEST_RPS, LAST_OVER (overload answers of the last setting).
sweep() {
  local log=$1 url=$2 tag=$3; shift 3
  BEST_TPS=0 BEST_P=0 BEST_P50=0 BEST_RPS=0
  printf '%-10s %9s %10s %9s %10s\n' "$tag" "requests" "tokens/s" "p50 ms" "overloads"
  for P in "$@"; do
    local R=$((16 * P > 200 ? 16 * P : 200)) d="$T/$tag-$P"
    [ "$R" -le 3000 ] || R=3000
    bench_write_config "$d" "$url" "$P"
    run "$tag P=$P" "$d" "$log" "$R" --concurrency "$P"
    read -r TPS P50 OVER < <(python3 "$LOGPY" window "$log" "$FIRST" "$LAST" 0.2 0.8)
    LAST_OVER=$OVER
    printf '%-10s %9s %10s %9s %10s\n' "P=$P" "$(bench_json_num "$REP" done)/$R" "$TPS" "$P50" "$OVER"
    if awk -v a="$TPS" -v b="$BEST_TPS" 'BEGIN { exit !(a > b) }'; then
      BEST_TPS=$TPS BEST_P=$P BEST_P50=$P50
      BEST_RPS=$(awk -v d="$(bench_json_num "$REP" done)" -v w="$(bench_json_num "$REP" wall_s)" 'BEGIN { printf "%.0f", d / w }')
    fi
  done
}

# adaptive_run LOG URL LABEL REQUESTS: ceiling 512; prints the limit.
adaptive_run() {
  local log=$1 url=$2 tag=$3 req=$4 d="$T/$3"
  bench_write_config "$d" "$url" 512 "    adaptive: true"
  run "$tag" "$d" "$log" "$req"
  if ! bench_run_ok "$tag" "$RC" "$REP" "$req"; then FAILS=$((FAILS + 1)); fi
  local failed
  failed=$(bench_json_num "$REP" failed)
  [ "${failed:-1}" = 0 ] || fail "$tag: ${failed:-?} request(s) failed"
  python3 - "$REP" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])).get("concurrency_limit", {})
s = c.get("series", [])
print(f"  limit: min {c.get('min')} max {c.get('max')} final {c.get('final')}; "
      f"{len(s)} changes kept; last points {s[-6:]}")
PY
}

# -- 1. capacity 64 ---------------------------------------------------------
LOG=$T/log64.jsonl
bench_start_sim "$T/sim64.out" --batch-model --kv-capacity 64 --overload-queue 256 --log-requests "$LOG"
URL="http://127.0.0.1:$SIM_PORT"
# shellcheck disable=SC2086
sweep "$LOG" "$URL" fixed $CONCURRENCIES
T64=$BEST_TPS L64=$BEST_P50 RPS64=$BEST_RPS OVER512=$LAST_OVER
echo "best fixed: $T64 tokens/s at P=$BEST_P, p50 $L64 ms"
adaptive_run "$LOG" "$URL" adaptive64 "$ADAPTIVE_REQUESTS"
read -r ATPS AP50 AOVER < <(python3 "$LOGPY" window "$LOG" "$FIRST" "$LAST" 0.4 0.9)
echo "adaptive (ceiling 512): $ATPS tokens/s ($(awk -v a="$ATPS" -v b="$T64" 'BEGIN { printf "%.2f", a / b }') x T*), p50 $AP50 ms ($(awk -v a="$AP50" -v b="$L64" 'BEGIN { printf "%.2f", a / b }') x L*), overload answers $AOVER (retried)"
awk -v a="$ATPS" -v b="$T64" 'BEGIN { exit !(a >= 0.95 * b) }' || fail "adaptive throughput $ATPS < 0.95 x $T64"
awk -v a="$AP50" -v b="$L64" 'BEGIN { exit !(a <= 1.3 * b) }' || fail "adaptive p50 $AP50 > 1.3 x $L64"
case " $CONCURRENCIES " in
  *" 512 "*) [ "$OVER512" -gt 0 ] || fail "fixed 512 saw no overload answer (the setting does not overload)" ;;
esac
bench_stop "$SIM_PID"

# -- 2. capacity 32, then a schedule 64 -> 32 -> 64 ---------------------------
LOG32=$T/log32.jsonl
bench_start_sim "$T/sim32.out" --batch-model --kv-capacity 32 --overload-queue 256 --log-requests "$LOG32"
sweep "$LOG32" "http://127.0.0.1:$SIM_PORT" fixed32 16 32 64 128
T32=$BEST_TPS
echo "best fixed at capacity 32: $T32 tokens/s at P=$BEST_P"
bench_stop "$SIM_PID"

LOGS=$T/logsched.jsonl
SIM_T0=$(date +%s.%N)
bench_start_sim "$T/simsched.out" --batch-model --kv-capacity 64 --overload-queue 256 \
  --capacity-schedule "0:64,20:32,40:64" --log-requests "$LOGS"
# Enough requests for ~60 s: 20 s at full, 20 s at half, 20 s at full rate.
NSCHED=$(awk -v r="$RPS64" 'BEGIN { printf "%d", r * 50 }')
adaptive_run "$LOGS" "http://127.0.0.1:$SIM_PORT" adaptive_sched "$NSCHED"
echo "capacity schedule 0:64,20:32,40:64 ($NSCHED requests): change, s until within 10 % of the phase's best, tokens/s and p50 ms from 10 s after, overloads"
while read -r C BACK TPS P50 OVER; do
  echo "  at ${C}s: back after ${BACK}s; then $TPS tokens/s, p50 $P50 ms, $OVER overloads"
  if [ "$BACK" = never ] || awk -v b="$BACK" 'BEGIN { exit !(b > 10) }'; then
    fail "capacity change at ${C}s: not within 10 % of the best within 10 s ($BACK)"
  fi
done < <(python3 "$LOGPY" phases "$LOGS" "$FIRST" "$LAST" "$SIM_T0" 20,40 "$T32" "$T64")
bench_stop "$SIM_PID"

# -- 3. waves (the Python tool's way) vs ours, free text ----------------------
if /usr/bin/python3 -c 'import aiohttp' 2>/dev/null; then
  LOGW=$T/logw.jsonl
  bench_start_sim "$T/simw.out" --batch-model --kv-capacity 64 --overload-queue 256 --log-requests "$LOGW"
  URLW="http://127.0.0.1:$SIM_PORT"
  NW=$((WAVE_P * 40))
  W=$(/usr/bin/python3 "$HERE/waves_client.py" "$URLW" "$WAVE_P" "$NW")
  WCPS=$(echo "$W" | sed -n 's/.*"cps": *\([0-9.]*\).*/\1/p')
  text_run() { # LABEL POOL EXTRA_API
    local d="$T/$1"
    bench_write_config "$d" "$URLW" "$2" "${3:-}"
    sed -i 's/^  stop: .*/  stop: []/; s/^  max_new_tokens: .*/  max_new_tokens: 64/; s/^namegen:/namegen:\n  extract: text/' "$d/datagen.yaml"
    run "$1" "$d" "$LOGW" "$NW"
    bench_run_ok "$1" "$RC" "$REP" "$NW" || FAILS=$((FAILS + 1))
    awk -v d="$(bench_json_num "$REP" done)" -v w="$(bench_json_num "$REP" wall_s)" 'BEGIN { printf "%.0f", d / w }'
  }
  FCPS=$(text_run text_fixed "$WAVE_P")
  ACPS=$(text_run text_adaptive 512 "    adaptive: true")
  echo "free text, n=1, $NW requests, no stop, max_tokens 64 (completion lengths vary):"
  echo "  python waves of $WAVE_P: $WCPS completions/s; evoselfcode fixed $WAVE_P: $FCPS; evoselfcode adaptive (ceiling 512): $ACPS"
  bench_stop "$SIM_PID"
else
  echo "(python3-aiohttp missing: waves comparison skipped, not counted)"
fi

bench_finish "$FAILS" "adaptive: T* $T64 tokens/s p50 $L64 ms; adaptive $ATPS tokens/s p50 $AP50 ms; fixed 512 overloads $OVER512"
