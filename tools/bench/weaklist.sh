#!/usr/bin/env bash
# The writer's weak list at 2 M names (namegen.weaklist): build time, bytes
# per name, lookups per second, against the unordered_set it replaced.
# Usage: tools/bench/weaklist.sh [names]   (default 2000000)
# Only the writer's storage: reading the YAML list is the config loader's.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --build build --target evo-bench-weaklist >/dev/null
./build/evo-bench-weaklist "${1:-2000000}"
