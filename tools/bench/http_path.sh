#!/usr/bin/env bash
# The pipeline against the limit of the HTTP path, side by side with wrk.
#
# nginx (1 worker, 127.0.0.1, canned vLLM-shaped /v1/completions body, n=1)
# is driven first by wrk (POST, C connections, min(C,2) threads, DURATION s)
# then by `evoselfcode datagen generate-names --mode l2r -n 1 --concurrency C`
# for N requests, N calibrated so that the run lasts ~DURATION s.
# Then the floor of libcurl itself: build/evo-bare-curl (tools/bench/bare_curl.cpp,
# one thread, curl multi + epoll, answers thrown away) at the same C.
# The pipeline runs with api.http_client auto (127.0.0.1: the engine's own
# HTTP/1.1 client; the measured figure) and again, same N, with
# api.http_client libcurl (for comparison: "curl pipe").
# Prints per C: wrk req/s, bare libcurl req/s, pipeline req/s (report.json
# jobs[0].requests_per_s: start-up and shutdown excluded), proc req/s (N /
# the whole process's wall time: the basis of the CPU figure), ratio
# pipeline/wrk, pipeline/bare, client CPU
# us/request (user+sys of the whole evoselfcode process / N), bare libcurl's
# and wrk's CPU us/request. Goal: ratio >= 0.5 at C=1, >= 0.4 at C>=8.
#
# Env: BUILD_DIR (default build), CONCURRENCIES ("1 8 32 64"), DURATION (5).
# Last line: "http_path: min ratio C=1 X, C>=8 Y  PASS|FAIL".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init http_path
CONCURRENCIES=${CONCURRENCIES:-"1 8 32 64"}
DURATION=${DURATION:-5}
command -v wrk >/dev/null || bench_die "wrk missing (apt-get install -y wrk)"
BARE="$BUILD_DIR/evo-bare-curl"
[ -x "$BARE" ] || bench_die "missing $BARE (cmake --build $BUILD_DIR --target evo-bare-curl)"
[ -x /usr/bin/time ] || bench_die "/usr/bin/time missing (apt-get install -y time)"

T=$BENCH_TMP
bench_start_nginx "$T/nginx"
PORT=$NGINX_PORT

cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"This is an algorithm function.\\n\\ndef ","max_tokens":16,"n":1,"temperature":0.8,"top_p":0.95,"stop":["("," ","\\n"]}'
wrk.headers["Content-Type"] = "application/json"
LUA

bench_write_config "$T/cfg" "http://127.0.0.1:$PORT" 16
bench_write_config "$T/cfg-curl" "http://127.0.0.1:$PORT" 16 "  http_client: libcurl"

# run_pipeline C N OUT [CFG_DIR]: sets P_RPS P_WALL P_CPU_US P_DONE P_RC
run_pipeline() {
  local c=$1 n=$2 out=$3 cfg=${4:-$T/cfg}
  rm -rf "$out"
  P_RC=0
  /usr/bin/time -f "%e %U %S" -o "$out.time" \
    "$EVO" datagen generate-names --config "$cfg/datagen.yaml" --base-url "http://127.0.0.1:$PORT" \
    --mode l2r --concurrency "$c" --num-batches "$n" -n 1 --quiet --out "$out" >"$out.stdout" 2>"$out.stderr" || P_RC=$?
  [ -f "$out/report.json" ] || bench_die "no report.json (exit $P_RC): $(tail -n5 "$out.stderr")"
  P_RPS=$(bench_json_num "$out/report.json" requests_per_s)
  P_DONE=$(bench_json_num "$out/report.json" done)
  read -r P_WALL u s <"$out.time"
  P_CPU_US=$(awk -v u="$u" -v s="$s" -v n="$n" 'BEGIN { printf "%.1f", (u + s) * 1e6 / n }')
}

printf '%-4s %10s %10s %14s %10s %6s %9s %14s %12s %11s %11s %13s %8s %6s\n' C "wrk req/s" "bare req/s" "pipeline req/s" "proc req/s" ratio "vs bare" "client us/req" "bare us/req" "wrk us/req" "curl pipe" "curl us/req" N result
MIN1="" MIN8=""
ROWS=0 FAILS=0
for C in $CONCURRENCIES; do
  ROWS=$((ROWS + 1))
  [ "$ROWS" -le 16 ] || break
  TH=$((C < 2 ? C : 2))
  /usr/bin/time -f "%e %U %S" -o "$T/wrk.time" \
    wrk -t "$TH" -c "$C" -d "${DURATION}s" -s "$T/post.lua" "http://127.0.0.1:$PORT/v1/completions" >"$T/wrk.out" 2>&1 ||
    bench_die "wrk failed: $(cat "$T/wrk.out")"
  W_RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$T/wrk.out")
  W_REQ=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T/wrk.out")
  if grep -q "Non-2xx\|Socket errors" "$T/wrk.out"; then echo "warning: wrk C=$C: $(grep 'Non-2xx\|Socket errors' "$T/wrk.out")" >&2; fi
  read -r _ wu ws <"$T/wrk.time"
  W_CPU_US=$(awk -v u="$wu" -v s="$ws" -v n="$W_REQ" 'BEGIN { printf "%.1f", (u + s) * 1e6 / n }')

  NB=$(awk -v r="$W_RPS" -v d="$DURATION" 'BEGIN { n = int(r * d / 3); if (n < 5000) n = 5000; if (n > 1000000) n = 1000000; print n }')
  /usr/bin/time -f "%e %U %S" -o "$T/bare.time" "$BARE" "http://127.0.0.1:$PORT/v1/completions" "$C" "$NB" >"$T/bare.out" 2>&1 ||
    bench_die "bare libcurl loop failed: $(cat "$T/bare.out")"
  read -r bw bu bs <"$T/bare.time"
  B_RPS=$(sed -n 's/^bare_curl: \([0-9.]*\) req.*/\1/p' "$T/bare.out")
  B_CPU_US=$(awk -v u="$bu" -v s="$bs" -v n="$NB" 'BEGIN { printf "%.1f", (u + s) * 1e6 / n }')

  # calibrate N on a short run, then the measured run lasts ~DURATION s
  N0=$((2000 * C)); [ "$N0" -le 20000 ] || N0=20000
  run_pipeline "$C" "$N0" "$T/cal"
  N=$(awk -v r="$P_RPS" -v d="$DURATION" 'BEGIN { n = int(r * d); if (n < 1000) n = 1000; if (n > 1000000) n = 1000000; print n }')
  run_pipeline "$C" "$N" "$T/run"
  RUN_OK=1
  bench_run_ok "C=$C pipeline" "$P_RC" "$T/run/report.json" "$N" || RUN_OK=0
  PIPE_RPS=$P_RPS PIPE_CPU_US=$P_CPU_US
  PROC_RPS=$(awk -v n="$N" -v w="$P_WALL" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }')
  run_pipeline "$C" "$N" "$T/run-curl" "$T/cfg-curl"
  bench_run_ok "C=$C pipeline on libcurl" "$P_RC" "$T/run-curl/report.json" "$N" || RUN_OK=0
  CURL_RPS=$P_RPS CURL_CPU_US=$P_CPU_US
  P_RPS=$PIPE_RPS P_CPU_US=$PIPE_CPU_US

  RATIO=$(awk -v p="$P_RPS" -v w="$W_RPS" 'BEGIN { printf "%.2f", p / w }')
  VSB=$(awk -v p="$P_RPS" -v b="$B_RPS" 'BEGIN { printf "%.2f", p / b }')
  GOAL=$([ "$C" -eq 1 ] && echo 0.5 || echo 0.4)
  if [ "$RUN_OK" -eq 1 ] && awk -v r="$RATIO" -v g="$GOAL" 'BEGIN { exit !(r >= g) }'; then RES=PASS; else RES=FAIL; FAILS=$((FAILS + 1)); fi
  if [ "$C" -eq 1 ]; then
    MIN1=$(awk -v a="${MIN1:-9e9}" -v b="$RATIO" 'BEGIN { print (b < a ? b : a) }')
  else
    MIN8=$(awk -v a="${MIN8:-9e9}" -v b="$RATIO" 'BEGIN { print (b < a ? b : a) }')
  fi
  printf '%-4s %10.0f %10.0f %14.0f %10s %6s %9s %14s %12s %11s %11.0f %13s %8s %6s\n' "$C" "$W_RPS" "$B_RPS" "$P_RPS" "$PROC_RPS" "$RATIO" "$VSB" "$P_CPU_US" "$B_CPU_US" "$W_CPU_US" "$CURL_RPS" "$CURL_CPU_US" "$N" "$RES"
done
echo "(goal: ratio = pipeline/wrk >= 0.5 at C=1, >= 0.4 at C>=8; vs bare = pipeline / bare single-threaded libcurl loop; curl pipe = the pipeline with api.http_client libcurl; pipeline req/s = report.json jobs[0].requests_per_s, the run without process start-up and shutdown; proc req/s = N / wall time of the whole process, the basis of client us/req = user+sys CPU of the whole process / N; a run that failed or did fewer than N requests is a FAIL)"
bench_finish "$FAILS" "http_path: min ratio C=1 ${MIN1:-n/a}, C>=8 ${MIN8:-n/a}"
