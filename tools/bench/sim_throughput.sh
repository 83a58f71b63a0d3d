#!/usr/bin/env bash
# Throughput of the simulator alone: wrk POSTs /v1/completions at zero latency
# at concurrency 1, 8, 32, 64 and prints requests/s per level.
#
# usage: tools/bench/sim_throughput.sh [BUILD_DIR] [SECONDS]
#   BUILD_DIR  where evoselfcode-sim lives (default: build)
#   SECONDS    duration of each wrk run (default: 5)
# Builds nothing. Needs wrk (Debian package "wrk").
set -euo pipefail

build_dir=${1:-build}
secs=${2:-5}
sim="$build_dir/evoselfcode-sim"
[[ -x "$sim" ]] || { echo "error: $sim not found or not executable (build it first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "error: wrk not installed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/evo-sim-bench-XXXXXX)
sim_pid=""
cleanup() {
  if [[ -n "$sim_pid" ]] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Start the simulator on a free port; its first stdout line names the port.
"$sim" --port 0 --latency-ms 0 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
port=""
for _ in $(seq 1 100); do
  line=$(head -n 1 "$tmp/sim.out" 2>/dev/null || true)
  if [[ "$line" == "listening on "* ]]; then port=${line##*:}; break; fi
  kill -0 "$sim_pid" 2>/dev/null || { echo "error: simulator exited: $(cat "$tmp/sim.err")" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$port" ]] || { echo "error: simulator did not report its port" >&2; exit 1; }

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"model":"sim-coder","prompt":"This is an algorithm function.\\n\\ndef ","n":1,"max_tokens":16,"temperature":0.8,"stop":["(", " ", "\\n"]}'
wrk.headers["Content-Type"] = "application/json"
LUA

# Sanity check: one request answers 200.
if command -v curl >/dev/null; then
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"prompt":"def ","n":1}' "http://127.0.0.1:$port/v1/completions" || true)
  [[ "$code" == "200" ]] || { echo "error: sanity request answered '$code'" >&2; exit 1; }
fi

echo "evoselfcode-sim on 127.0.0.1:$port (pid $sim_pid), zero latency, ${secs}s per level, $(nproc) cores"
printf '%-6s %12s %12s %10s\n' "conc" "req/s" "avg_lat" "non2xx"
best=0
best_c=0
for c in 1 8 32 64; do
  threads=$(( c < 2 ? c : 2 ))
  out=$(wrk -t"$threads" -c"$c" -d"${secs}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$port/v1/completions" 2>&1)
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  lat=$(awk '$1 == "Latency" && NF >= 4 {print $2; exit}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  printf '%-6s %12s %12s %10s\n' "$c" "${rps:-?}" "${lat:-?}" "${non2xx:-0}"
  if [[ -n "$rps" ]] && awk -v a="$rps" -v b="$best" 'BEGIN {exit !(a > b)}'; then best=$rps; best_c=$c; fi
done

kill -TERM "$sim_pid"
wait "$sim_pid" && rc=0 || rc=$?
sim_pid=""
[[ $rc -eq 0 ]] || echo "warning: simulator exited with $rc" >&2
echo "summary: peak ${best} req/s at concurrency ${best_c}"
