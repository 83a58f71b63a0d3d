// Replays every input under tests/fuzz/regressions/<target>/ (inputs that
// once crashed a libFuzzer target or broke one of its properties) and every
// seed under tests/fuzz/corpus/<target>/ through the fuzz targets' bodies
// (tests/fuzz/fuzz_bodies.hpp), built here without libFuzzer. A crash fails
// the test run; a broken property fails the check naming the file.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_bodies.hpp"
#include "support/child_process.hpp"

namespace fs = std::filesystem;

namespace {

std::string current_input;

void fail_property(const char* what) {
  FAIL_CHECK("fuzz property violated: " << what << " (input " << current_input
                                        << ")");
}

std::vector<fs::path> inputs(const std::string& target) {
  std::vector<fs::path> out;
  for (auto sub : {"regressions", "corpus"}) {
    auto dir = fs::path{EVO_SOURCE_DIR} / "tests/fuzz" / sub / target;
    if (!fs::is_directory(dir))
      continue;
    for (auto& e : fs::directory_iterator(dir)) {
      if (out.size() >= 10000)
        break;
      if (e.is_regular_file() && e.path().filename() != "README.md")
        out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

template <class F>
size_t replay(const std::string& target, F&& one) {
  evo::fuzz::fuzz_fail_hook = &fail_property;
  size_t n = 0;
  for (auto& p : inputs(target)) {
    current_input = p.string();
    CAPTURE(current_input);
    auto bytes = slurp(p);
    one(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++n;
  }
  evo::fuzz::fuzz_fail_hook = nullptr;
  return n;
}

} // namespace

TEST_CASE("fuzz regressions and seeds: responses") {
  CHECK(replay("fuzz_response", [](const uint8_t* d, size_t n) {
          evo::fuzz::response_one(d, n);
        }) >= 5);
}

TEST_CASE("fuzz regressions and seeds: names") {
  CHECK(replay("fuzz_name", [](const uint8_t* d, size_t n) {
          evo::fuzz::name_one(d, n);
        }) >= 5);
}

TEST_CASE("fuzz regressions and seeds: configs") {
  const std::string dir = evo::test::make_temp_dir();
  CHECK(replay("fuzz_config", [&](const uint8_t* d, size_t n) {
          try {
            evo::fuzz::config_one(d, n, dir);
          } catch (const std::exception& e) {
            FAIL_CHECK("load_datagen_config threw something other than "
                       "config_error: "
                       << e.what() << " (input " << current_input << ")");
          }
        }) >= 5);
}
