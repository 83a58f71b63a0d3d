// Helpers shared by the writer's file tests: a fresh mkdtemp folder removed
// afterwards, and reading a file whole or by lines.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace evo::test {

/// A new folder under the system temp folder; removed with everything in it.
struct temp_dir {
  std::string path;
  explicit temp_dir(const char* prefix = "evo-unit") {
    namespace fs = std::filesystem;
    auto tmpl = (fs::temp_directory_path() / (std::string{prefix} + "-XXXXXX"))
                  .string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = ::mkdtemp(buf.data());
    REQUIRE(p != nullptr);
    path = p;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// The whole file; empty when it does not exist.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The lines of `data`, an unterminated tail included as the last one.
inline std::vector<std::string> lines_of(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    auto eol = data.find('\n', pos);
    if (eol == std::string::npos) {
      out.push_back(data.substr(pos)); // unterminated tail
      break;
    }
    out.push_back(data.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return out;
}

} // namespace evo::test
