// Helpers shared by the config and manifest loader tests: temporary
// folders, files, the working directory, a fake environment.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/config/config_loader.hpp"

namespace fs = std::filesystem;

namespace evo::test {

using evo::config_error;
using evo::env_lookup;

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "evo-config-test-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    REQUIRE(::mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

inline std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs in `dir` while alive, then returns to where it was.
struct cwd_guard {
  fs::path old;
  explicit cwd_guard(const fs::path& dir) : old(fs::current_path()) {
    fs::current_path(dir);
  }
  ~cwd_guard() {
    std::error_code ec;
    fs::current_path(old, ec);
  }
};

/// An environment with exactly these variables.
inline env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

inline const env_lookup no_env = fake_env({});

/// The message of the config_error `f` throws ("" if it throws nothing).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

inline std::string source(const std::string& rel) {
  return std::string(EVO_SOURCE_DIR) + "/" + rel;
}

/// The case folders of a refusal corpus, sorted (at most 1000).
inline std::vector<fs::path> corpus_cases(const fs::path& corpus) {
  std::vector<fs::path> cases;
  constexpr size_t max_cases = 1000;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    if (cases.size() >= max_cases)
      break;
    if (entry.is_directory())
      cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

/// A corpus case's expected.txt without its trailing line break.
inline std::string expected_message(const fs::path& dir) {
  REQUIRE(fs::exists(dir / "expected.txt"));
  std::string expected = read(dir / "expected.txt");
  while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r'))
    expected.pop_back();
  return expected;
}

} // namespace evo::test
