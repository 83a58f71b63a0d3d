#!/usr/bin/env bash
# Memory stays flat while the dedupe set grows to ~1,000,000 names.
#
# Simulator --vocabulary 50000000 (uniform over 50 M distinct names), no
# latency; `generate-names --mode l2r -n 16 --concurrency 32`, no rate limit,
# num_batches = 1e6/16 * 1.1 (room for duplicates and filtered names).
# Every INTERVAL s: VmRSS / VmHWM of the evoselfcode process and the size of
# names.jsonl; kept names at a sample = size / (final size / final kept), the
# average line length of the finished file (no wc -l on a big file mid-run).
# idle RSS = peak RSS (/usr/bin/time %M) of the same command with
# --num-batches 1 (start-up + one request), the footprint before the set grows.
# Prints idle, peak, peak-idle (goal <= 64 MiB), RSS-idle per kept name at
# ~100k and ~1M kept, and the marginal bytes per name between them
# (goal <= 40 bytes/name, i.e. flat).
#
# Env: BUILD_DIR (default build), TARGET (1000000), INTERVAL (0.5),
# DATAGEN_EXTRA (YAML lines appended to the datagen config, e.g.
# $'dedupe:\n  canonical: true').
# Last line: "memory: idle X MiB, peak Y MiB, peak-idle Z MiB, marginal B bytes/name  PASS|FAIL".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init memory
TARGET=${TARGET:-1000000}
INTERVAL=${INTERVAL:-0.5}
T=$BENCH_TMP
[ -x /usr/bin/time ] || bench_die "/usr/bin/time missing (apt-get install -y time)"

bench_start_sim "$T/sim.out" --latency-ms 0 --jitter-ms 0 --vocabulary 50000000
bench_write_config "$T/cfg" "http://127.0.0.1:$SIM_PORT" 32
[ -z "${DATAGEN_EXTRA:-}" ] || printf '%s\n' "$DATAGEN_EXTRA" >>"$T/cfg/datagen.yaml"
NB=$(awk -v t="$TARGET" 'BEGIN { printf "%d", t / 16 * 1.1 }')
ARGS=(datagen generate-names --config "$T/cfg/datagen.yaml" --mode l2r -n 16 --concurrency 32 --quiet)

# idle footprint: start-up and one request
/usr/bin/time -f "%M" -o "$T/idle.time" "$EVO" "${ARGS[@]}" --num-batches 1 --out "$T/idle" >/dev/null 2>"$T/idle.err" ||
  bench_die "idle run failed: $(tail -n3 "$T/idle.err")"
IDLE_KB=$(tail -n1 "$T/idle.time")

OUT="$T/out"
"$EVO" "${ARGS[@]}" --num-batches "$NB" --out "$OUT" >"$T/run.stdout" 2>"$T/run.stderr" &
EPID=$!
bench_track "$EPID"
: >"$T/samples.txt"   # t_s rss_kb hwm_kb names_bytes
T0=$(bench_now)
MAX_SAMPLES=$(awk -v i="$INTERVAL" 'BEGIN { printf "%d", 900 / i }')   # 15 min bound
i=0
while [ "$i" -lt "$MAX_SAMPLES" ] && [ -r "/proc/$EPID/status" ]; do
  RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$EPID/status" 2>/dev/null || true)
  HWM=$(awk '/^VmHWM:/ { print $2 }' "/proc/$EPID/status" 2>/dev/null || true)
  [ -n "$RSS" ] || break
  SZ=$(stat -c %s "$OUT/l2r/names.jsonl" 2>/dev/null || echo 0)
  echo "$(awk -v a="$T0" -v b="$(bench_now)" 'BEGIN { printf "%.2f", b - a }') $RSS $HWM $SZ" >>"$T/samples.txt"
  sleep "$INTERVAL"; i=$((i + 1))
done
RC=0; wait "$EPID" || RC=$?
RUN_OK=1
[ "$RC" -eq 0 ] || { echo "FAIL: generate-names exit $RC: $(tail -n3 "$T/run.stderr")" >&2; RUN_OK=0; }
KEPT=$(bench_json_num "$OUT/report.json" kept 2>/dev/null || true)
KEPT=${KEPT:-0}
FSZ=$(stat -c %s "$OUT/l2r/names.jsonl" 2>/dev/null || echo 1)
[ "$KEPT" -ge "$TARGET" ] || { echo "FAIL: kept $KEPT < target $TARGET" >&2; RUN_OK=0; }

echo "samples (t s, RSS MiB, kept names est.):"
awk -v f="$FSZ" -v k="$KEPT" '{ printf "  %6.2f %8.1f %9d\n", $1, $2 / 1024, $4 * k / f }' "$T/samples.txt"
# at the samples nearest ~100k and ~target kept names
read -r IDLE PEAK DELTA K1 R1 P1 K2 R2 P2 MARG <<<"$(awk -v f="$FSZ" -v k="$KEPT" -v idle="$IDLE_KB" -v tgt="$TARGET" '
  { kept = $4 * k / f; rss = $2; if ($3 > hwm) hwm = $3
    d1 = kept - tgt / 10; if (d1 < 0) d1 = -d1; if (n == 0 || d1 < b1) { b1 = d1; k1 = kept; r1 = rss }
    d2 = kept - tgt; if (d2 < 0) d2 = -d2;     if (n == 0 || d2 < b2) { b2 = d2; k2 = kept; r2 = rss }
    n++ }
  END { p1 = k1 > 0 ? (r1 - idle) * 1024 / k1 : 0; p2 = k2 > 0 ? (r2 - idle) * 1024 / k2 : 0
        marg = (k2 > k1) ? (r2 - r1) * 1024 / (k2 - k1) : 0
        printf "%.1f %.1f %.1f %d %.1f %.1f %d %.1f %.1f %.1f\n", idle / 1024, hwm / 1024, (hwm - idle) / 1024,
               k1, r1 / 1024, p1, k2, r2 / 1024, p2, marg }' "$T/samples.txt")"
echo "kept $KEPT names in $FSZ bytes of names.jsonl; $(wc -l <"$T/samples.txt") samples every ${INTERVAL}s"
echo "idle RSS (start-up + 1 request, maxrss)  $IDLE MiB"
echo "peak RSS (VmHWM)                         $PEAK MiB"
echo "peak - idle                              $DELTA MiB   (goal <= 64)"
echo "at ~$K1 kept: RSS $R1 MiB, (RSS-idle)/name $P1 bytes"
echo "at ~$K2 kept: RSS $R2 MiB, (RSS-idle)/name $P2 bytes"
echo "marginal RSS per name between them       $MARG bytes/name   (goal <= 40)"
FAILS=0
[ "$RUN_OK" -eq 1 ] && awk -v d="$DELTA" -v m="$MARG" 'BEGIN { exit !(d <= 64 && m <= 40) }' || FAILS=1
bench_finish "$FAILS" "memory: idle $IDLE MiB, peak $PEAK MiB, peak-idle $DELTA MiB, marginal $MARG bytes/name"
