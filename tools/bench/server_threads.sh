#!/usr/bin/env bash
# A server with fewer HTTP threads than connections (llama.cpp's layer).
#
# Simulator with --http-threads 8 (keep-alive timeout KEEPALIVE_S, 100
# requests per connection) and, by default, llama.cpp's `-np 4` on a tiny
# model: 4 requests processed at once, 8 ms each (SIM_EXTRA; "" for no
# latency at all); at 4, 8, 16, 32, 64 and 256 in flight, R requests of
# `generate-names --mode l2r -n 1` with each HTTP client of evoselfcode
# (api.http_client: native, libcurl) and the Python asyncio client
# tools/bench/aio_client.py (aiohttp, one session, semaphore + gather).
# Each cell gets a simulator of its own: a client that gives up a request
# on a queued connection leaves it in the server's queue (the server reads
# it when a thread gets there), which would otherwise weigh on the next
# cell. req/s = R / the run's own wall (evoselfcode: report.json wall_s,
# from the first send; Python: its gather, without interpreter start-up;
# the evoselfcode command's whole wall is printed too); p99 = the client's
# own latency percentile (report.json latency_ms.p99; Python: per request).
#
# Goal: at every setting each evoselfcode client has req/s >= Python's and
# p99 <= 3 x its own p99 at 8 in flight.
#
# Env: BUILD_DIR (build), REQUESTS (400), KEEPALIVE_S (5), IN_FLIGHT
# ("4 8 16 32 64 256"), PYTHON (/usr/bin/python3, needs python3-aiohttp),
# SIM_EXTRA (simulator flags; default "--latency-ms 8 --max-concurrency 4").
# Last line: "server_threads: ... PASS|FAIL".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init server_threads
R=${REQUESTS:-400}
KEEPALIVE_S=${KEEPALIVE_S:-5}
IN_FLIGHT=${IN_FLIGHT:-"4 8 16 32 64 256"}
PYTHON=${PYTHON:-/usr/bin/python3}
"$PYTHON" -c 'import aiohttp' 2>/dev/null || bench_die "$PYTHON cannot import aiohttp (apt-get install python3-aiohttp)"
SIM_EXTRA=${SIM_EXTRA-"--latency-ms 8 --max-concurrency 4"}
T=$BENCH_TMP

# fresh_sim NAME: a simulator of its own for one cell; sets URL.
fresh_sim() {
  [ -z "${SIM_PID:-}" ] || bench_stop "$SIM_PID"
  # shellcheck disable=SC2086
  bench_start_sim "$T/sim-$1.out" --http-threads 8 --keepalive-timeout-s "$KEEPALIVE_S" \
    --keepalive-max-requests 100 $SIM_EXTRA
  URL="http://127.0.0.1:$SIM_PORT"
}

# run_evo CLIENT P -> "rps p99 command_wall"
run_evo() {
  local client=$1 p=$2 d="$T/$1-$2"
  fresh_sim "$client-$p"
  bench_write_config "$d" "$URL" "$p" "  http_client: $client"
  local t0 t1 rc=0
  t0=$(bench_now)
  "$EVO" datagen generate-names --config "$d/datagen.yaml" --mode l2r --num-batches "$R" -n 1 \
    --concurrency "$p" --quiet --out "$d/out" >"$d/stdout" 2>"$d/stderr" || rc=$?
  t1=$(bench_now)
  [ "$rc" -eq 0 ] || echo "warning: $client at $p: exit $rc: $(tail -n3 "$d/stderr")" >&2
  local done p99 wall
  done=$(bench_json_num "$d/out/report.json" done)
  [ "$done" = "$R" ] || echo "warning: $client at $p: done $done of $R" >&2
  p99=$(bench_json_num "$d/out/report.json" p99)
  wall=$(bench_json_num "$d/out/report.json" wall_s)
  awk -v r="$R" -v w="$wall" -v a="$t0" -v b="$t1" -v q="$p99" \
    'BEGIN { printf "%.1f %.1f %.2f\n", r / w, q, b - a }'
}

# run_py P -> "rps p99"
run_py() {
  fresh_sim "py-$1"
  "$PYTHON" "$(dirname "$0")/aio_client.py" "$URL" "$1" "$R" >"$T/py-$1.json"
  sed -n 's/.*"rps": *\([0-9.]*\).*"p99_ms": *\([0-9.]*\).*/\1 \2/p' "$T/py-$1.json"
}

printf '%-9s | %-29s | %-29s | %-22s\n' "" "native" "libcurl" "python aiohttp"
printf '%-9s | %10s %11s %6s | %10s %11s %6s | %10s %11s\n' "in flight" "req/s" "p99 ms" "cmd s" \
  "req/s" "p99 ms" "cmd s" "req/s" "p99 ms"
declare -A RPS P99 CMD
for p in $IN_FLIGHT; do
  for c in native libcurl; do
    read -r RPS[$c,$p] P99[$c,$p] CMD[$c,$p] < <(run_evo "$c" "$p")
  done
  read -r RPS[py,$p] P99[py,$p] < <(run_py "$p")
  printf '%-9s | %10s %11s %6s | %10s %11s %6s | %10s %11s\n' "$p" "${RPS[native,$p]}" "${P99[native,$p]}" \
    "${CMD[native,$p]}" "${RPS[libcurl,$p]}" "${P99[libcurl,$p]}" "${CMD[libcurl,$p]}" "${RPS[py,$p]}" "${P99[py,$p]}"
done

FAILS=""
for c in native libcurl; do
  base=${P99[$c,8]:-}
  for p in $IN_FLIGHT; do
    awk -v a="${RPS[$c,$p]}" -v b="${RPS[py,$p]}" 'BEGIN { exit !(a >= b) }' ||
      FAILS="$FAILS $c@$p:req/s<python"
    if [ -n "$base" ]; then
      awk -v q="${P99[$c,$p]}" -v b="$base" 'BEGIN { exit !(q <= 3 * b) }' ||
        FAILS="$FAILS $c@$p:p99>3x"
    fi
  done
done
echo "(server: evoselfcode-sim --http-threads 8 --keepalive-timeout-s $KEEPALIVE_S --keepalive-max-requests 100 $SIM_EXTRA, a fresh one per cell; $R requests per cell; req/s over the run's own wall, cmd s = the command's whole wall)"
echo "(goal: every setting req/s >= python's and p99 <= 3 x the client's p99 at 8 in flight)"
if [ -z "$FAILS" ]; then
  echo "server_threads: PASS"
else
  echo "server_threads: FAIL:$FAILS"
fi
