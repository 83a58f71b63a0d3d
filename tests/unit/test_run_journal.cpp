// run_journal in a fresh mkdtemp folder: header once, staged items written by
// one flush, reload with --resume, refusal without it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/writer/output_folder.hpp"
#include "actors/writer/run_journal.hpp"
#include "tests/unit/writer_test_util.hpp"

using namespace evo;
namespace fs = std::filesystem;

namespace {

struct journal_dir : evo::test::temp_dir {
  journal_dir() : temp_dir("evo-journal") {}
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

TEST_CASE("run_journal: a journal of other jobs is a conflict, not an I/O error") {
  journal_dir dir;
  { run_journal j{dir.file(), {"a", "b"}, false}; }
  CHECK_THROWS_AS(run_journal(dir.file(), {"a"}, true), journal_conflict);
  CHECK_THROWS_AS(run_journal(dir.file(), {"a", "b"}, false), journal_conflict);
  CHECK_NOTHROW(run_journal(dir.file(), {"a", "b"}, true));
}

TEST_CASE("run_journal: a torn last line is cut on resume and later lines stay whole") {
  journal_dir dir;
  {
    run_journal j{dir.file(), {"a"}, false};
    j.record("a", 0, true);
  }
  { std::ofstream(dir.file(), std::ios::app) << "{\"job\":\"a\",\"ind"; }
  {
    run_journal j{dir.file(), {"a"}, true};
    CHECK(j.loaded().at("a").finished == std::vector<uint64_t>{0});
    j.record("a", 1, true);
  }
  auto lines = file_lines(dir.file());
  REQUIRE(lines.size() == 3);
  CHECK(lines[2] == "{\"job\":\"a\",\"index\":1,\"ok\":true}");
  run_journal again{dir.file(), {"a"}, true};
  CHECK(again.loaded().at("a").finished == std::vector<uint64_t>{0, 1});
}

TEST_CASE("run_journal: the header is one JSON line naming the jobs, whatever their names") {
  journal_dir dir;
  const std::vector<std::string> jobs{"we\"ird", "back\\slash", "x"};
  { run_journal j{dir.file(), jobs, false}; }
  auto lines = file_lines(dir.file());
  REQUIRE(lines.size() == 1);
  auto h = nlohmann::json::parse(lines[0]);
  CHECK(h.at("journal") == 1);
  CHECK(h.at("jobs").get<std::vector<std::string>>() == jobs);
  CHECK_NOTHROW(run_journal(dir.file(), jobs, true));
}
