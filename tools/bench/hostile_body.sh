#!/usr/bin/env bash
# Peak memory of a run against a server that answers every request with a
# 1 GB body (api.max_response_bytes must stop both clients while reading).
#
# A small Python server on a free loopback port answers each POST with a
# 1 GiB body of 'x', streamed in 64 KiB writes, either with Content-Length
# or chunked (one server per framing), and stops writing when the client
# closes. Runs `evoselfcode datagen generate-names --mode l2r -n 1
# --num-batches 16 --concurrency 4` against it with api.http_client auto
# (the own client: loopback) and libcurl, for both framings.
# idle = peak RSS (/usr/bin/time %M) of the same command with --num-batches 1
# against the simulator (start-up and one normal request).
# Prints one line per case (client, framing, peak RSS, peak-idle, exit status,
# failures.jsonl lines, all failures response_too_large) and a last line
# "hostile_body: worst peak-idle X MiB (goal < 100 MiB) PASS|FAIL".
#
# Env: BUILD_DIR (default build), BATCHES (16), CONC (4).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init hostile_body
BATCHES=${BATCHES:-16}
CONC=${CONC:-4}
T=$BENCH_TMP
[ -x /usr/bin/time ] || bench_die "/usr/bin/time missing (apt-get install -y time)"

cat >"$T/server.py" <<'PY'
import socket, sys, threading
mode, portfile = sys.argv[1], sys.argv[2]
TOTAL = 1 << 30
block = b"x" * 65536
def serve(c):
    try:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, rest = buf.split(b"\r\n\r\n", 1)
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":", 1)[1])
            while len(rest) < n:
                d = c.recv(65536)
                if not d:
                    return
                rest += d
            buf = rest[n:]
            if mode == "length":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % TOTAL)
                for _ in range(TOTAL // len(block)):
                    c.sendall(block)
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = b"%x\r\n" % len(block) + block + b"\r\n"
                for _ in range(TOTAL // len(block)):
                    c.sendall(chunk)
                c.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

start_hostile() { # MODE: sets HPORT
  local mode=$1 i=0
  rm -f "$T/port.$mode"
  python3 "$T/server.py" "$mode" "$T/port.$mode" 2>"$T/server.$mode.err" &
  bench_track $!
  HPID=$!
  while [ ! -s "$T/port.$mode" ] && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  [ -s "$T/port.$mode" ] || bench_die "hostile server ($mode) did not start: $(cat "$T/server.$mode.err")"
  HPORT=$(cat "$T/port.$mode")
  bench_wait_port "$HPORT" 10
}

ARGS=(datagen generate-names --mode l2r -n 1 --concurrency "$CONC" --quiet)

# idle footprint: start-up and one normal request
bench_start_sim "$T/sim.out" --latency-ms 0 --jitter-ms 0
bench_write_config "$T/idle" "http://127.0.0.1:$SIM_PORT" "$CONC"
/usr/bin/time -f "%M" -o "$T/idle.time" "$EVO" "${ARGS[@]}" --config "$T/idle/datagen.yaml" \
  --num-batches 1 --out "$T/idle.out" >/dev/null 2>"$T/idle.err" ||
  bench_die "idle run failed: $(tail -n3 "$T/idle.err")"
IDLE_KB=$(tail -n1 "$T/idle.time")
echo "idle: $((IDLE_KB / 1024)) MiB (one normal request)"

printf '%-8s %-8s %10s %14s %5s %9s %s\n' client framing "peak MiB" "peak-idle MiB" exit failures "all response_too_large"
WORST=0
for mode in length chunked; do
  start_hostile "$mode"
  for client in auto libcurl; do
    dir="$T/$client.$mode"
    bench_write_config "$dir" "http://127.0.0.1:$HPORT" "$CONC" "  http_client: $client"
    set +e
    /usr/bin/time -f "%M" -o "$dir/time" "$EVO" "${ARGS[@]}" --config "$dir/datagen.yaml" \
      --num-batches "$BATCHES" --out "$dir/out" >"$dir/stdout" 2>"$dir/stderr"
    rc=$?
    set -e
    peak=$(tail -n1 "$dir/time")
    fails=$(cat "$dir"/out/*/failures.jsonl 2>/dev/null | wc -l)
    kinds=$(cat "$dir"/out/*/failures.jsonl 2>/dev/null | python3 -c '
import json, sys
ks = {json.loads(l).get("failure") for l in sys.stdin if l.strip()}
print("yes" if ks == {"response_too_large"} else "no: %s" % sorted(map(str, ks)))')
    over=$(((peak - IDLE_KB) / 1024))
    [ "$over" -gt "$WORST" ] && WORST=$over
    label=$client; [ "$client" = auto ] && label="own"
    printf '%-8s %-8s %10d %14d %5d %9d %s\n' "$label" "$mode" $((peak / 1024)) "$over" "$rc" "$fails" "$kinds"
  done
  bench_stop "$HPID"
done
verdict=PASS; [ "$WORST" -lt 100 ] || verdict=FAIL
echo "hostile_body: worst peak-idle $WORST MiB (goal < 100 MiB) $verdict"
