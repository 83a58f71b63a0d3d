#!/usr/bin/env bash
# Runs the throughput, latency, rate, memory and startup benchmarks and
# cluster_scaling one after the other, prints each one's output, then a
# summary (one line per script: its last line).
# Env: BUILD_DIR (default build), passed on to every script.
# Last line: "run_all: N of 6 PASS"; exit status 1 unless all 6 passed (a
# script passes when it exits 0 and its last line ends in PASS).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
echo "date: $(date)"
echo "machine: $(nproc) cores, $(uname -srm), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git -C "$HERE/../.." rev-parse --short HEAD 2>/dev/null || echo '?') (working tree as built in ${BUILD_DIR:-build})"
SUMMARY=()
PASS=0
SCRIPTS="http_path latency_bound rate_precision memory startup cluster_scaling"
for s in $SCRIPTS; do
  echo "== tools/bench/$s.sh"
  RC=0
  OUT=$(timeout 900 "$HERE/$s.sh" 2>&1) || RC=$?
  echo "$OUT"
  LAST=$(printf '%s\n' "$OUT" | tail -n1)
  [ "$RC" -eq 0 ] || LAST="$LAST (exit $RC)"
  SUMMARY+=("$LAST")
  case "$LAST" in *PASS) PASS=$((PASS + 1)) ;; esac
done
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "run_all: $PASS of ${#SUMMARY[@]} PASS"
[ "$PASS" -eq "${#SUMMARY[@]}" ]
