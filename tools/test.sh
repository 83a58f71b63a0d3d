#!/usr/bin/env bash
# The whole test suite: unit, config, simulator and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ctest --test-dir build --output-on-failure "$@"
