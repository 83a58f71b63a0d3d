// libFuzzer target: arbitrary bytes as datagen.yaml (see fuzz_bodies.hpp).
#include "tests/fuzz/fuzz_bodies.hpp"

#include <stdlib.h>
#include <unistd.h>

namespace {
std::string scratch;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/evo-fuzz-config-XXXXXX";
  if (!::mkdtemp(tmpl))
    std::abort();
  scratch = tmpl;
  // A model_config naming a relative file resolves here (or in the cwd).
  if (::chdir(scratch.c_str()) != 0)
    std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evo::fuzz::config_one(data, size, scratch);
  return 0;
}
