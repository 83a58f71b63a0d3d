#!/usr/bin/env bash
# ctest "install": installs the build tree into WORK/prefix, configures and
# builds the outside project (find_package(evoselfcode CONFIG REQUIRED))
# against it, starts the installed evoselfcode-sim on a free loopback port
# and runs the outside program against it; checks its output and the
# simulator's request log, then stops the simulator by pid. Every step is
# bounded by `timeout`. Writes only inside WORK (emptied first).
# Usage: install_test.sh BUILD_DIR OUTSIDE_SOURCE_DIR WORK [SANITIZE]
set -euo pipefail
build=$1 outside_src=$2 work=$3 sanitize=${4:-}

fail() { echo "install test: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

timeout 120 cmake --install "$build" --prefix "$prefix" >"$work/install.log" \
  || { cat "$work/install.log"; fail "cmake --install failed"; }
for f in bin/evoselfcode bin/evoselfcode-sim include/evoselfcode/app/client.hpp \
         include/evoselfcode/messages/settings.hpp \
         lib/cmake/evoselfcode/evoselfcode-config.cmake; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done

# The outside build reuses ccache like the main build; with a sanitizer
# build, the outside program links the same runtime.
args=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if command -v ccache >/dev/null; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ -n "$sanitize" ]]; then
  args+=(-DCMAKE_CXX_FLAGS="-fsanitize=$sanitize" \
         -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize")
fi
timeout 300 cmake -S "$outside_src" -B "$work/outside" "${args[@]}" \
  >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; fail "configuring the outside project failed"; }
timeout 300 cmake --build "$work/outside" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; fail "building the outside project failed"; }

# The simulator prints "listening on HOST:PORT" once bound; read it through
# a fifo (no polling).
mkfifo "$work/sim.out"
"$prefix/bin/evoselfcode-sim" --port 0 --seed 1 \
  --log-requests "$work/requests.jsonl" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
exec 3<"$work/sim.out"
line=
read -r -t 20 -u 3 line || { cat "$work/sim.err"; fail "simulator did not start"; }
[[ "$line" =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] \
  || fail "unexpected simulator line: $line"
port=${BASH_REMATCH[1]}

status=0
timeout 60 "$work/outside/outside_client" "http://127.0.0.1:$port" \
  >"$work/out.txt" 2>"$work/err.txt" || status=$?
kill "$sim_pid"
wait "$sim_pid" || fail "simulator exited with $?"
trap - EXIT
exec 3<&-
cat "$work/out.txt"
[[ $status == 0 ]] || { cat "$work/err.txt"; fail "outside_client exited with $status"; }

grep -qx "base_url: http://127.0.0.1:$port/v1" "$work/out.txt" \
  || fail "base_url not normalised"
grep -qE '^complete: 2 choice\(s\) \[[^]]+\] \[[^]]+\]$' "$work/out.txt" \
  || fail "complete did not give 2 choices"
grep -qE '^complete_fim: 2 choice\(s\) \[[^]]+\] \[[^]]+\]$' "$work/out.txt" \
  || fail "complete_fim did not give 2 choices"
# Both calls reached the simulator, on /v1/completions.
requests=$(grep -c '"/v1/completions"' "$work/requests.jsonl" || true)
[[ $requests == 2 ]] || fail "expected 2 requests in the simulator log, got $requests"
rm -rf "$prefix" # 140 MB; kept when a check failed
echo "install test: ok"
