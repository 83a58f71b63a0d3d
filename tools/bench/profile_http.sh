#!/usr/bin/env bash
# Where the client's CPU goes on the HTTP path (companion of http_path.sh).
#
# nginx canned /v1/completions as in http_path.sh; `generate-names --mode l2r
# -n 1 --concurrency C --num-batches N` under `perf record` (DWARF call graphs,
# F Hz). Prints the top self-cost symbols (with their DSO) and the top
# inclusive (children) symbols of the evoselfcode process; the perf.data and
# the full reports are kept in OUT_DIR (default /tmp/evo-profile-http).
#
# Env: BUILD_DIR (default build), C (64), N (200000), F (999), OUT_DIR.
# Last line: "profile_http: top self <symbol> X%".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init profile_http
C=${C:-64}
N=${N:-200000}
F=${F:-999}
OUT_DIR=${OUT_DIR:-/tmp/evo-profile-http}
command -v perf >/dev/null || bench_die "perf missing (apt-get install -y linux-perf)"
T=$BENCH_TMP
mkdir -p "$OUT_DIR"
bench_start_nginx "$T/nginx"
bench_write_config "$T/cfg" "http://127.0.0.1:$NGINX_PORT" 16
RC=0
perf record -q -F "$F" --call-graph dwarf,16384 -o "$OUT_DIR/perf.data" -- \
  "$EVO" datagen generate-names --config "$T/cfg/datagen.yaml" --base-url "http://127.0.0.1:$NGINX_PORT" \
  --mode l2r --concurrency "$C" --num-batches "$N" -n 1 --quiet --out "$T/out" >"$T/run.stdout" 2>"$T/run.stderr" || RC=$?
# A profile of a failed run profiles the failure: stop.
bench_run_ok "profiled run" "$RC" "$T/out/report.json" "$N" ||
  bench_die "the profiled run failed: $(tail -n3 "$T/run.stderr")"
echo "pipeline: $(bench_json_num "$T/out/report.json" requests_per_s) req/s under perf (C=$C, N=$N)"
perf report -i "$OUT_DIR/perf.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.7 \
  2>/dev/null >"$OUT_DIR/self.txt" || true
perf report -i "$OUT_DIR/perf.data" --children --sort symbol --stdio -g none --percent-limit 3 \
  2>/dev/null >"$OUT_DIR/children.txt" || true
perf report -i "$OUT_DIR/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null >"$OUT_DIR/threads.txt" || true
echo "== CPU by thread"
grep -v '^#' "$OUT_DIR/threads.txt" | grep -v '^$' | head -n 12
echo "== top self cost (dso, symbol)"
grep -v '^#' "$OUT_DIR/self.txt" | grep -v '^$' | head -n 40
echo "== top inclusive cost (symbol)"
grep -v '^#' "$OUT_DIR/children.txt" | grep -v '^$' | head -n 40
TOP=$(grep -v '^#' "$OUT_DIR/self.txt" | grep -v '^$' | head -n1 | awk '{ p = $1; $1 = ""; $2 = ""; sub(/^ +/, ""); print $0 " " p }')
echo "profile_http: top self $TOP"
