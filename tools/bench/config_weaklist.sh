#!/usr/bin/env bash
# Time and peak RSS of loading a config whose namegen.weaklist holds N
# entries (default 2,000,000), through the real binary: the model of the
# config does not support FIM, so `--mode fim` stops with exit 2 right after
# the whole file is loaded and checked, before any request.
# Usage: tools/bench/config_weaklist.sh [N]   (prints one line: N, seconds, MiB)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-2000000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$dir/big.yaml" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("models:\n  default: m\n  m:\n    name: m\n    supports_fim: false\n")
    f.write("namegen:\n  weaklist:\n")
    for i in range(n):
        f.write(f"    - weak_name_{i:08d}\n")
PY
size=$(stat -c %s "$dir/big.yaml")
set +e
/usr/bin/time -f "%e %U %S %M" -o "$dir/time" build/evoselfcode datagen generate-names \
  --mode fim --config "$dir/big.yaml" --base-url http://127.0.0.1:9 2>"$dir/err"
rc=$?
set -e
if [ "$rc" != 2 ] || ! grep -q "does not support FIM" "$dir/err"; then
  echo "unexpected exit $rc:"; head -c 500 "$dir/err"; exit 1
fi
read -r secs user sys kb < <(tail -n 1 "$dir/time")
echo "weaklist entries $n, file $((size / 1048576)) MiB: load ${secs} s wall (${user} s user + ${sys} s sys CPU), peak RSS $((kb / 1024)) MiB"
