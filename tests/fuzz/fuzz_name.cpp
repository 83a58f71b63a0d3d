// libFuzzer target: see fuzz_bodies.hpp (name).
#include "tests/fuzz/fuzz_bodies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evo::fuzz::name_one(data, size);
  return 0;
}
