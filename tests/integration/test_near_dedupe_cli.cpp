// dedupe.near end to end: the binary against the simulator's
// --text-variants (problem descriptions that differ in their last word),
// checked through names.jsonl, report.json and the summary line.
#include <doctest/doctest.h>

#include <set>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

constexpr int bases = 12;

// A free-text config: whole answers kept (no stop, room for ~120 words).
std::string write_text_config(const std::string& dir,
                              const std::string& base_url, bool near) {
  test_config c;
  c.base_url = base_url;
  write_config(dir, c); // model.yaml
  write_file(dir + "/datagen.yaml",
             "model_config: model.yaml\n"
             "namegen:\n"
             "  extract: text\n"
             "  temperature: 1.0\n"
             "  n: 8\n"
             "  num_batches: 10\n"
             "  max_new_tokens: 1000\n"
             "  stop: []\n"
             "io:\n  out_names_dir: " + dir + "/out\n"
             + (near ? "dedupe:\n  near: {threshold: 0.8, shingle: 5}\n" : ""));
  return dir + "/datagen.yaml";
}

// The texts without their last word: which simulator text each came from.
std::set<std::string> bases_of(const std::vector<json>& recs) {
  std::set<std::string> out;
  for (auto& r : recs) {
    auto t = r.at("problem_description").get<std::string>();
    out.insert(t.substr(0, t.rfind(' ')));
  }
  return out;
}

json l2r_report(const std::string& dir) {
  auto doc = json::parse(read_file(dir + "/out/report.json"));
  return doc.at("jobs").at(0);
}

} // namespace

TEST_CASE("dedupe.near keeps one text per simulator text and counts the rest") {
  auto sim = start_sim({"--seed", "9", "--text-variants", std::to_string(bases)});
  auto dir = make_temp_dir();
  auto cfg = write_text_config(dir, sim.base_url(), true);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto recs = read_jsonl(dir + "/out/l2r/names.jsonl");
  // 80 answers over 12 texts: every text drawn (seeded), each kept once.
  CHECK(recs.size() == bases);
  CHECK(bases_of(recs).size() == recs.size());
  auto job = l2r_report(dir);
  CHECK(job.at("choices") == 80);
  CHECK(job.at("kept") == bases);
  CHECK(job.at("near_duplicates").get<int>() > 0);
  CHECK(job.at("kept").get<int>() + job.at("duplicates").get<int>()
          + job.at("near_duplicates").get<int>()
        == 80);
  CHECK(r.err.find(" near, filtered") != std::string::npos);

  SUBCASE("a second run into the folder compares with the texts it holds") {
    auto again = run_cli({"datagen", "generate-names", "--config", cfg,
                          "--mode", "l2r", "--quiet"});
    REQUIRE(again.exit_code == 0);
    auto job2 = l2r_report(dir);
    CHECK(job2.at("kept") == 0);
    CHECK(job2.at("near_duplicates").get<int>() > 0);
    CHECK(read_jsonl(dir + "/out/l2r/names.jsonl").size() == bases);
  }
}

TEST_CASE("without dedupe.near the same answers keep their near duplicates") {
  auto sim = start_sim({"--seed", "9", "--text-variants", std::to_string(bases)});
  auto dir = make_temp_dir();
  auto cfg = write_text_config(dir, sim.base_url(), false);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto recs = read_jsonl(dir + "/out/l2r/names.jsonl");
  CHECK(recs.size() > bases_of(recs).size()); // texts from one base, kept twice
  CHECK(l2r_report(dir).at("near_duplicates") == 0);
}
