// libFuzzer target: see fuzz_bodies.hpp (response).
#include "tests/fuzz/fuzz_bodies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evo::fuzz::response_one(data, size);
  return 0;
}
