// A free-text job's folder (namegen.extract: text) in a fresh mkdtemp folder:
// the records, and dedupe across a reopen (a second run) as for names.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "actors/writer/output_folder.hpp"
#include "tests/unit/writer_test_util.hpp"

using namespace evo;
using namespace evo::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<json> records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<json> out;
  for (std::string l; std::getline(in, l);) {
    auto j = json::parse(l, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    out.push_back(std::move(j));
  }
  return out;
}

job_output text_job(const std::string& dir, const std::string& mode) {
  job_output out;
  out.dir = dir;
  out.mode = mode;
  out.name_regex = "^[a-z_][a-z0-9_]*$"; // not applied to texts
  out.weaklist = {"weak"};                // nor this
  out.extract_text = true;
  out.min_chars = 5;
  out.max_chars = 200;
  return out;
}

} // namespace

TEST_CASE("text folder: problem_description records, uid of the stripped text") {
  temp_dir tmp{"evo-text"};
  auto dir = tmp.path + "/l2r";
  const std::string desc = "Write a function that merges two sorted lists.\n"
                           "Input: two lists. Output: one list.";
  {
    output_folder out{dir, "l2r", choice_sieve::for_job(text_job(dir, "l2r"))};
    auto st = out.write(4, "sim-coder", {"\n  " + desc + "\n---\n", "tiny",
                                         "Weak", "  " + desc + "  "});
    CHECK(st.kept == 2); // desc + "---" and desc; "tiny" and "Weak" too short
    CHECK(st.filtered_regex == 2);
  }
  auto recs = records(dir + "/names.jsonl");
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].at("problem_description") == desc + "\n---");
  CHECK(recs[0].at("source") == "L2R");
  CHECK(recs[0].at("mode") == "l2r");
  CHECK(recs[0].at("raw_text") == "\n  " + desc + "\n---\n");
  CHECK(recs[0].at("uid") == uid_hex(uid_key(desc + "\n---")));
  CHECK(recs[0].at("request_index") == 4);
  CHECK(recs[0].at("choice_index") == 0);
  CHECK(recs[1].at("problem_description") == desc);
  CHECK(recs[1].at("choice_index") == 3);
  auto hashes = lines_of(slurp(dir + "/hash_table.txt"));
  REQUIRE(hashes.size() == 2);
  CHECK(hashes[1] == uid_hex(uid_key(desc)));
}

TEST_CASE("text folder reopened (a second run) drops the texts it holds") {
  temp_dir tmp{"evo-text"};
  auto dir = tmp.path + "/fim";
  auto job = text_job(dir, "fim");
  {
    output_folder out{dir, "fim", choice_sieve::for_job(job)};
    CHECK(out.write(0, "m", {"Problem one, in words."}).kept == 1);
  }
  output_folder again{dir, "fim", choice_sieve::for_job(job)};
  CHECK(again.preexisting() == 1);
  auto st = again.write(1, "m", {"  Problem one, in words.\n",
                                 "Problem two, in words."});
  CHECK(st.duplicates == 1);
  CHECK(st.kept == 1);
  auto recs = records(dir + "/names.jsonl");
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].at("problem_description") == "Problem two, in words.");
  CHECK(recs[1].at("source") == "FIM");
}
