// libFuzzer target: arbitrary bytes as an HTTP/1.x response, fed to
// http1_response_parser whole, in pieces and byte by byte (see
// fuzz_bodies.hpp, http1).
#include "tests/fuzz/fuzz_bodies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evo::fuzz::http1_one(data, size);
  return 0;
}
