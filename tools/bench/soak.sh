#!/usr/bin/env bash
# A long run at a high rate against the simulator with
# faults on, sampling the client's RSS and open file descriptors every
# INTERVAL seconds; both must stay flat. Prints the first and last samples.
#
# Env: BUILD_DIR (default build), DURATION (600 s), INTERVAL (10 s),
#      RATE (requests/s, default 500), POOL (32), FAULT_RATE (0.05).
# Last line: "soak: rss first X MiB last Y MiB, fds first A last B  PASS|FAIL"
# (PASS when the last RSS is within 10 % + 4 MiB of the first sample taken
# after warm-up and the descriptor count grew by at most 4: connections come
# and go with the reset faults).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init soak
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-10}
RATE=${RATE:-500}
POOL=${POOL:-32}
FAULT_RATE=${FAULT_RATE:-0.05}
T=$BENCH_TMP

bench_start_sim "$T/sim.out" --fault-rate "$FAULT_RATE" \
  --faults 429,500,503,reset,malformed,truncated
bench_write_config "$T/cfg" "http://127.0.0.1:$SIM_PORT" "$POOL" \
  "  backoff_base_s: 0.05"
# Enough requests to outlast DURATION at RATE; the run is stopped at the end.
N=$(( RATE * (DURATION + 60) ))
"$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --mode l2r \
  --num-batches "$N" -n 4 --rate-limit "$RATE" --quiet --out "$T/out" \
  >"$T/run.out" 2>"$T/run.err" &
RUN_PID=$!
bench_track "$RUN_PID"

sample() { # prints "rss_kib fds"
  local rss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$RUN_PID/status" 2>/dev/null || echo 0)
  fds=$(ls "/proc/$RUN_PID/fd" 2>/dev/null | wc -l)
  echo "$rss $fds"
}

printf '%8s %10s %6s %10s\n' "t (s)" "RSS (MiB)" "fds" "names"
first_rss=""; first_fds=""; last_rss=0; last_fds=0
steps=$(( DURATION / INTERVAL ))
for ((i = 1; i <= steps; i++)); do
  sleep "$INTERVAL"
  kill -0 "$RUN_PID" 2>/dev/null || bench_die "run ended early: $(tail -3 "$T/run.err")"
  read -r rss fds < <(sample)
  names=$(wc -l < "$T/out/l2r/names.jsonl" 2>/dev/null || echo 0)
  printf '%8d %10.1f %6d %10d\n' $((i * INTERVAL)) "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$fds" "$names"
  # The first sample is warm-up (pools, buffers, dedupe set growing).
  if [ "$i" -eq 2 ] || { [ "$steps" -lt 2 ] && [ "$i" -eq 1 ]; }; then
    first_rss=$rss; first_fds=$fds
  fi
  last_rss=$rss; last_fds=$fds
done
first_rss=${first_rss:-$last_rss}; first_fds=${first_fds:-$last_fds}
limit=$(( first_rss + first_rss / 10 + 4096 ))
verdict=PASS
[ "$last_rss" -le "$limit" ] || verdict=FAIL
[ "$last_fds" -le $(( first_fds + 4 )) ] || verdict=FAIL
printf 'soak: rss first %.1f MiB last %.1f MiB, fds first %d last %d  %s\n' \
  "$(awk -v k="$first_rss" 'BEGIN{print k/1024}')" "$(awk -v k="$last_rss" 'BEGIN{print k/1024}')" \
  "$first_fds" "$last_fds" "$verdict"
[ "$verdict" = PASS ]
