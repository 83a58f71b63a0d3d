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

#include "tests/fuzz/fuzz_bodies.hpp"
#include "tests/support/child_process.hpp"

namespace fs = std::filesystem;

namespace {

std::string current_input;

void fail_property(const char* what) {
  FAIL_CHECK("fuzz property violated: " << std::string{what} << " (input " << current_input
                                        << ")");
}

std::vector<fs::path> inputs(const std::string& sub, const std::string& target) {
  std::vector<fs::path> out;
  {
    auto dir = fs::path{EVO_SOURCE_DIR} / "tests/fuzz" / sub / target;
    if (!fs::is_directory(dir))
      return out;
    for (auto& e : fs::directory_iterator(dir)) {
      if (out.size() >= 10000)
        break;
      if (e.is_regular_file() && e.path().filename() != "README.md"
          && e.path().filename() != ".keep")
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
size_t replay(const std::string& sub, const std::string& target, F&& one) {
  evo::fuzz::fuzz_fail_hook = &fail_property;
  size_t n = 0;
  for (auto& p : inputs(sub, target)) {
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

void responses(const char* sub, size_t at_least) {
  CHECK(replay(sub, "fuzz_response", [](const uint8_t* d, size_t n) {
          evo::fuzz::response_one(d, n);
        }) >= at_least);
}

void names(const char* sub, size_t at_least) {
  CHECK(replay(sub, "fuzz_name", [](const uint8_t* d, size_t n) {
          evo::fuzz::name_one(d, n);
        }) >= at_least);
}

void configs(const char* sub, size_t at_least) {
  const std::string dir = evo::test::make_temp_dir();
  CHECK(replay(sub, "fuzz_config", [&](const uint8_t* d, size_t n) {
          try {
            evo::fuzz::config_one(d, n, dir);
          } catch (const std::exception& e) {
            FAIL_CHECK("load_datagen_config threw something other than "
                       "config_error: "
                       << e.what() << " (input " << current_input << ")");
          }
        }) >= at_least);
}

void http1(const char* sub, size_t at_least) {
  CHECK(replay(sub, "fuzz_http1", [](const uint8_t* d, size_t n) {
          evo::fuzz::http1_one(d, n);
        }) >= at_least);
}

TEST_CASE("fuzz seeds: responses") { responses("corpus", 5); }
TEST_CASE("fuzz seeds: names") { names("corpus", 5); }
TEST_CASE("fuzz seeds: configs") { configs("corpus", 5); }
// Each regression folder holds the inputs of bugs fixed so far (the minimum
// counts keep an emptied folder from passing).
// fuzz_response: an error excerpt cut inside a UTF-8 sequence.
TEST_CASE("fuzz regressions: responses") { responses("regressions", 1); }
// fuzz_name: a huge name that made libstdc++'s regex overflow the stack.
TEST_CASE("fuzz regressions: names") { names("regressions", 1); }
TEST_CASE("fuzz seeds: http1 responses") { http1("corpus", 10); }
// fuzz_http1: a header section of 64 KiB + 1 byte (the cap was off by
// one), a NUL in a header name, trailers over 64 KiB in total.
// Inputs named refused_* must end in the parser's error state.
TEST_CASE("fuzz regressions: http1 responses") {
  http1("regressions", 3);
  size_t refused = 0;
  for (auto& p : inputs("regressions", "fuzz_http1")) {
    if (p.filename().string().rfind("refused_", 0) != 0)
      continue;
    CAPTURE(p.string());
    auto bytes = slurp(p);
    evo::http1_response_parser parser;
    std::string body;
    parser.feed(bytes.data(), bytes.size(), body);
    parser.on_eof();
    CHECK(parser.failed());
    ++refused;
  }
  CHECK(refused >= 3);
}

// Regression (fixed: config_error escapes control characters): config_error
// messages were not one line, as config_loader.hpp
// promises (and tests/config checks for its corpus). Found by fuzz_config:
//  - yaml_syntax_error_echoes_newline.yaml: yaml-cpp's "unknown escape
//    character: <c>" is passed through with <c> a raw newline from the file;
//  - unknown_key_with_newline.yaml: a quoted key "a\nb" is echoed raw in
//    "key 'namegen.a<newline>b': expected one of ...".
// Control characters of the file reach the terminal/log unescaped. Passes
// once messages escape control characters.
TEST_CASE("fuzz regressions: configs") {
  configs("regressions", 3);
}
