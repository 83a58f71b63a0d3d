# Shared helpers for tools/bench/*.sh (sourced, not run).
# - BUILD_DIR (default <repo>/build) selects the binaries.
# - Everything started is recorded with bench_track PID and stopped on EXIT.
# - Everything binds 127.0.0.1 only; every wait loop is bounded.

BENCH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$BENCH_REPO/build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$BENCH_REPO/$BUILD_DIR" ;; esac
EVO="$BUILD_DIR/evoselfcode"
SIM="$BUILD_DIR/evoselfcode-sim"
BENCH_PIDS=()
BENCH_TMP=""

bench_die() { echo "$(basename "$0"): $*" >&2; exit 1; }

bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
    fi
  done
  for p in "${BENCH_PIDS[@]}"; do
    local i=0
    while kill -0 "$p" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  done
  if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ] && [ -z "${BENCH_KEEP_TMP:-}" ]; then rm -rf "$BENCH_TMP"; fi
}

# bench_init NAME: temp dir in $BENCH_TMP, EXIT trap, binaries checked.
bench_init() {
  BENCH_TMP="$(mktemp -d "/tmp/evo-bench-$1.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  [ -x "$EVO" ] || bench_die "missing $EVO (build first, or set BUILD_DIR)"
  [ -x "$SIM" ] || bench_die "missing $SIM (build first, or set BUILD_DIR)"
}

bench_track() { BENCH_PIDS+=("$1"); }

# bench_stop PID: stop one process we started (TERM, then KILL after 5 s).
bench_stop() {
  local p=$1 i=0
  kill -TERM "$p" 2>/dev/null || return 0
  while kill -0 "$p" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# Ports in LISTEN state on this machine (from /proc, no ss/netstat needed).
bench_listening_ports() {
  awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); h = a[2]; v = 0
         for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
         print v }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# bench_free_port: a loopback port nobody listens on (bounded tries).
bench_free_port() {
  local used i p
  used=" $(bench_listening_ports | tr '\n' ' ') "
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    case "$used" in *" $p "*) continue ;; esac
    echo "$p"; return 0
  done
  bench_die "no free port found"
}

# bench_wait_port PORT [SECONDS]: until 127.0.0.1:PORT accepts a connection.
bench_wait_port() {
  local port=$1 limit=${2:-10} i=0
  while [ "$i" -lt $((limit * 20)) ]; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05; i=$((i + 1))
  done
  bench_die "nothing listening on 127.0.0.1:$port after ${limit}s"
}

# bench_start_sim OUTFILE ARGS...: start the simulator on a free port;
# sets SIM_PID and SIM_PORT.
bench_start_sim() {
  local out=$1; shift
  "$SIM" --host 127.0.0.1 --port 0 "$@" >"$out" 2>"$out.err" &
  SIM_PID=$!
  bench_track "$SIM_PID"
  local i=0
  SIM_PORT=""
  while [ "$i" -lt 200 ]; do
    # The background shell may not have created $out yet: not an error.
    SIM_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" 2>/dev/null | head -n1) || true
    [ -n "$SIM_PORT" ] && break
    kill -0 "$SIM_PID" 2>/dev/null || bench_die "simulator exited: $(cat "$out.err")"
    sleep 0.05; i=$((i + 1))
  done
  [ -n "$SIM_PORT" ] || bench_die "simulator did not report its port"
  bench_wait_port "$SIM_PORT" 10
}

# bench_start_worker OUT CONFIG BASE_URL POOL: starts `evoselfcode worker`
# on a free loopback port in front of BASE_URL (stdout OUT, stderr
# OUT.err), tracked for clean-up; sets WORKER_PID and WORKER_PORT once
# it listens.
bench_start_worker() {
  local out=$1 config=$2 base_url=$3 pool=$4 j=0
  "$EVO" worker --listen 127.0.0.1:0 --config "$config" \
    --base-url "$base_url" --pool "$pool" >"$out" 2>"$out.err" &
  WORKER_PID=$!
  bench_track "$WORKER_PID"
  WORKER_PORT=""
  while [ "$j" -lt 200 ]; do
    WORKER_PORT=$(sed -n '1s/^worker listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" 2>/dev/null) || true
    [ -n "$WORKER_PORT" ] && break
    kill -0 "$WORKER_PID" 2>/dev/null || bench_die "worker ($out) exited: $(cat "$out.err")"
    sleep 0.05; j=$((j + 1))
  done
  [ -n "$WORKER_PORT" ] || bench_die "worker ($out) did not report its port: $(head -c 300 "$out")"
  bench_wait_port "$WORKER_PORT" 10
}

# bench_write_config DIR BASE_URL POOL [EXTRA_API_YAML_LINES]: writes
# DIR/model.yaml and DIR/datagen.yaml (shipped datagen keys, model_config
# pointing at the bench model.yaml). Extra lines are appended under api:.
bench_write_config() {
  local dir=$1 url=$2 pool=$3 extra=${4:-}
  mkdir -p "$dir"
  {
    echo 'api:'
    echo "  base_url: \"$url\""
    echo '  api_key: ""'
    echo '  timeout_s: 60'
    echo '  max_retries: 3'
    echo '  concurrency:'
    echo "    max_concurrent_requests: $pool"
    echo "    semaphore_size: $pool"
    [ -n "$extra" ] && printf '%s\n' "$extra"
    echo 'models:'
    echo '  default: "Qwen2.5-Coder-32B"'
  } >"$dir/model.yaml"
  sed 's/^model_config:.*/model_config: model.yaml/' "$BENCH_REPO/configs/datagen.yaml" >"$dir/datagen.yaml"
}

# bench_json_num FILE KEY: first numeric value of "KEY": in FILE
# (report.json lists jobs first, so this is jobs[0]'s).
bench_json_num() {
  sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n1
}

bench_now() { date +%s.%N; }

# bench_run_ok LABEL RC REPORT WANT: a measured run that exited non-zero,
# wrote no report or did fewer requests than asked gives no figure (a run
# that died fast would look fast): says why on stderr and returns 1.
bench_run_ok() {
  local label=$1 rc=$2 report=$3 want=$4 done
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $label: exit $rc" >&2; return 1
  fi
  if [ ! -f "$report" ]; then
    echo "FAIL: $label: no $report" >&2; return 1
  fi
  done=$(bench_json_num "$report" done)
  if [ "$done" != "$want" ]; then
    echo "FAIL: $label: done ${done:-?} of $want requests" >&2; return 1
  fi
}

# bench_finish FAILS LINE: prints the last line ("... PASS|FAIL") and exits
# 1 when anything failed, so scripts and CI see a failed benchmark.
bench_finish() {
  local fails=$1 line=$2
  if [ "$fails" -eq 0 ]; then echo "$line  PASS"; exit 0; fi
  echo "$line  FAIL"; exit 1
}

# bench_start_nginx DIR: nginx (daemon off, 1 worker, 127.0.0.1 on a free
# port) answering POST /v1/completions with a fixed vLLM-shaped body (n=1).
# Sets NGINX_PID and NGINX_PORT.
BENCH_COMPLETION_BODY='{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"merge_sorted_lists","finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}'
bench_start_nginx() {
  local d=$1
  command -v nginx >/dev/null || bench_die "nginx missing (apt-get install -y nginx-light)"
  mkdir -p "$d"
  chmod 755 "$BENCH_TMP" "$d"   # the worker may run as nobody
  NGINX_PORT=$(bench_free_port)
  cat >"$d/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /v1/completions { default_type application/json; return 200 '$BENCH_COMPLETION_BODY'; }
    location / { return 404; }
  }
}
CONF
  nginx -p "$d" -c "$d/nginx.conf" 2>"$d/stderr" &
  NGINX_PID=$!
  bench_track "$NGINX_PID"
  bench_wait_port "$NGINX_PORT" 10
}
