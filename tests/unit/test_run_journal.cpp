// run_journal in a fresh mkdtemp folder: header once, staged items written by
// one flush, reload with --resume, refusal without it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "actors/writer/output_folder.hpp"
#include "actors/writer/run_journal.hpp"

using namespace evo;
namespace fs = std::filesystem;

namespace {

struct journal_dir {
  std::string path;
  journal_dir() {
    std::string tmpl = (fs::temp_directory_path() / "evo-journal-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = ::mkdtemp(buf.data());
    REQUIRE(p != nullptr);
    path = p;
  }
  ~journal_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file() const { return path + "/journal.jsonl"; }
};

std::vector<std::string> file_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

} // namespace

TEST_CASE("run_journal: staged items reach the file only with flush, after "
          "one header") {
  journal_dir dir;
  const std::vector<std::string> jobs{"fim_a", "l2r_a"};
  {
    run_journal j{dir.file(), jobs, false};
    CHECK(file_lines(dir.file()).size() == 1); // the header
    j.stage("fim_a", 3, true);
    j.stage("l2r_a", 0, true);
    j.stage("fim_a", 1, false);
    CHECK(file_lines(dir.file()).size() == 1);
    j.flush();
    j.record("l2r_a", 7, true);
  }
  auto lines = file_lines(dir.file());
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].find("\"journal\":1") != std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i)
    CHECK(lines[i].find("\"journal\"") == std::string::npos);
  run_journal again{dir.file(), jobs, true};
  auto& loaded = again.loaded();
  REQUIRE(loaded.count("fim_a") == 1);
  REQUIRE(loaded.count("l2r_a") == 1);
  CHECK(loaded.at("fim_a").finished == std::vector<uint64_t>{1, 3});
  CHECK(loaded.at("fim_a").failed == 1);
  CHECK(loaded.at("l2r_a").finished == std::vector<uint64_t>{0, 7});
}

TEST_CASE("run_journal: an existing journal without resume is refused") {
  journal_dir dir;
  { run_journal j{dir.file(), {"a"}, false}; }
  CHECK_THROWS_AS(run_journal(dir.file(), {"a"}, false), output_error);
}
