#!/usr/bin/env bash
# The own HTTP/1.x response parser against Boost.Beast's response_parser
# (libboost-dev 1.74): nanoseconds per response for a vLLM-shaped answer
# (Content-Length and chunked, whole and in 64-byte pieces), and the lines
# of code each side asks us to keep. Builds tools/bench/parser_compare.cpp
# with g++ -O2 into a temp folder (needs the build's libevo_request.a).
#
# Env: BUILD_DIR (default build), N (200000 responses per figure).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build}"
N=${N:-200000}
T="$(mktemp -d /tmp/evo-bench-parser.XXXXXX)"
trap 'rm -rf "$T"' EXIT
LIB="$BUILD_DIR/actors/request/libevo_request.a"
[ -f "$LIB" ] || { echo "parser_compare: missing $LIB (build first)" >&2; exit 1; }
g++ -std=c++17 -O2 -I"$REPO" "$REPO/tools/bench/parser_compare.cpp" "$LIB" -lcurl -o "$T/cmp"
"$T/cmp" "$N"
own=$(cat "$REPO/actors/request/http1_parser.hpp" "$REPO/actors/request/http1_parser.cpp" | wc -l)
echo "own parser: $own lines (http1_parser.hpp + .cpp)"
/usr/bin/time -f "%e s" -o "$T/t" g++ -std=c++17 -O2 -c -x c++ - -o "$T/b.o" <<'CPP'
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
void f() { boost::beast::http::response_parser<boost::beast::http::string_body> p; }
CPP
echo "compile time of one translation unit holding beast's parser: $(cat "$T/t")"
