#!/usr/bin/env bash
# Near-duplicate detection of free texts (dedupe.near): precision and recall
# on a synthetic stream with known near duplicates, records per second on one
# core (records of 50-150 words), bytes per kept record.
# Usage: tools/bench/near_dedupe.sh [bases] [variants per base] [threshold] [shingle]
#        (defaults 20000 3 0.8 5: 80 000 records)
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --build build --target evo-bench-near-dedupe >/dev/null
# One core: the detector is single-threaded; pin it so the figure is per core.
exec taskset -c 0 ./build/evo-bench-near-dedupe "${1:-20000}" "${2:-3}" "${3:-0.8}" "${4:-5}"
