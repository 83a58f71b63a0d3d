// How many distinct names there are to be had, through the binary: against
// the simulator's known pool (--vocabulary N, uniform), the report's
// frequency-of-frequencies and Chao1 estimate, the stop_when rule
// (stopped_by saturation), the most frequent names; dedupe.canonical and
// filters.exclude_names.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>

#include "actors/writer/name_filter.hpp"
#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

std::set<std::string> names_of(const std::string& names_jsonl) {
  std::set<std::string> out;
  for (auto& r : read_jsonl(names_jsonl))
    out.insert(r["func_name"].get<std::string>());
  return out;
}

uint64_t valid_of(const json& job) {
  return job["kept"].get<uint64_t>() + job["duplicates"].get<uint64_t>()
         + job["canonical_duplicates"].get<uint64_t>();
}

// A datagen.yaml of the harness's model.yaml with `filters` and `extra`.
std::string write_datagen(const std::string& dir, const std::string& base_url,
                          const std::string& filters,
                          const std::string& extra = "") {
  test_config c;
  c.base_url = base_url;
  write_config(dir, c);
  write_file(dir + "/datagen.yaml",
             "model_config: model.yaml\n"
             "namegen:\n  temperature: 1.0\n  n: 8\n  num_batches: 40\n"
             "filters:\n" + filters + "io:\n  out_names_dir: " + dir + "/out\n"
             + extra);
  return dir + "/datagen.yaml";
}

} // namespace

TEST_CASE("a known pool of N names: Chao1 within 10 % of N after 2N choices, "
          "and stop_when stops the job for saturation") {
  const int N = 2000;
  auto dir = make_temp_dir();
  auto sim = start_sim({"--seed", "5", "--vocabulary", std::to_string(N)});
  test_config c;
  c.base_url = sim.base_url();
  c.pool = 8;
  write_config(dir, c);
  // a: 2N choices; b: a budget of 16N choices, stopped by the rule long
  // before (the new share of a uniform pool after m choices is e^(-m/N)).
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: a, mode: l2r, prompt: \"def \", n: 16, num_batches: 250}\n"
             "  - {name: b, mode: l2r, prompt: \"def \", n: 16, num_batches: 2000,\n"
             "     stop_when: {new_rate_below: 0.02, window: 2000}}\n");
  auto r = run_cli({"datagen", "run", "--manifest", dir + "/manifest.yaml",
                    "--out", dir + "/out"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  auto& a = report["jobs"][0];
  auto& b = report["jobs"][1];
  for (auto* job : {&a, &b}) {
    auto& j = *job;
    INFO(j.dump());
    auto& est = j["estimated_distinct"];
    CHECK(std::abs(est["value"].get<double>() - N) <= 0.1 * N);
    CHECK(est["low"].get<double>() <= est["value"].get<double>());
    CHECK(est["high"].get<double>() >= est["value"].get<double>());
    CHECK(est["method"] == "chao1");
    // every kept name is one of the table's names; the table's counts add
    // up to the valid choices (a name in ">10" was seen 11 times or more)
    auto& f = j["frequency_of_frequencies"];
    uint64_t distinct = f[">10"].get<uint64_t>(), sightings = 0;
    for (int k = 1; k <= 10; ++k) {
      distinct += f[std::to_string(k)].get<uint64_t>();
      sightings += k * f[std::to_string(k)].get<uint64_t>();
    }
    CHECK(distinct == j["kept"].get<uint64_t>());
    if (job == &a) {
      CHECK(f[">10"] == 0); // 2N choices: nothing comes near 11 sightings
      CHECK(sightings == valid_of(j));
    } else {
      CHECK(sightings + 11 * f[">10"].get<uint64_t>() <= valid_of(j));
    }
    CHECK(est["p_new"].get<double>()
          == doctest::Approx(f["1"].get<double>() / valid_of(j)));
  }
  // the 20 most frequent names of a: in names.jsonl, sorted, and their
  // counts the 20 largest of the frequency table (f_k names seen k times)
  {
    auto& top = a["top_names"];
    auto kept = names_of(dir + "/out/a/names.jsonl");
    REQUIRE(top.size() == std::min<size_t>(20, a["kept"].get<uint64_t>()));
    std::vector<uint64_t> from_table; // each name's count, largest first
    for (int k = 10; k >= 1; --k)
      for (uint64_t i = 0; i < a["frequency_of_frequencies"][std::to_string(k)]
                                  .get<uint64_t>() && from_table.size() < 20; ++i)
        from_table.push_back(static_cast<uint64_t>(k));
    uint64_t sum = 0;
    std::set<std::string> listed;
    for (size_t i = 0; i < top.size(); ++i) {
      auto name = top[i]["name"].get<std::string>();
      auto count = top[i]["count"].get<uint64_t>();
      INFO(top.dump());
      CHECK(kept.count(name) == 1);
      CHECK(listed.insert(name).second);
      CHECK(count == from_table.at(i));
      if (i > 0)
        CHECK(count <= top[i - 1]["count"].get<uint64_t>());
      sum += count;
    }
    CHECK(sum <= valid_of(a));
    CHECK(top[0]["count"].get<uint64_t>() > 1); // 2N draws from N repeat
    auto html = read_file(dir + "/out/report.html");
    CHECK(html.find("most frequent names</caption>") != std::string::npos);
    for (auto& e : top)
      CHECK(html.find("<tr><td>" + e["name"].get<std::string>() + "</td><td>"
                      + std::to_string(e["count"].get<uint64_t>())
                      + "</td></tr>")
            != std::string::npos);
  }
  CHECK(a["choices"].get<uint64_t>() == 2 * N);
  CHECK(a["stopped_by"] == "budget");
  CHECK(b["stopped_by"] == "saturation");
  // fewer than 2 % new in a full window of 2000: at least 2000 valid
  // choices, and far short of the budget
  CHECK(b["stopped_at_choices"].get<uint64_t>() >= 2000);
  CHECK(b["stopped_at_choices"].get<uint64_t>() < 16 * N);
  CHECK(b["done"].get<uint64_t>() < 2000);
  CHECK(r.err.find("saturated after") != std::string::npos);
}

TEST_CASE("filters.exclude_names drops the listed names, counted as excluded") {
  auto dir = make_temp_dir();
  std::set<std::string> all;
  json first;
  {
    auto sim = start_sim({"--seed", "9"});
    auto cfg = write_datagen(dir, sim.base_url(),
                             "  name_regex: \"^[a-z_][a-z0-9_]{2,63}$\"\n");
    auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                      "l2r", "--out", dir + "/one", "--quiet"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    all = names_of(dir + "/one/l2r/names.jsonl");
    first = json::parse(read_file(dir + "/one/report.json"))["jobs"][0];
  }
  REQUIRE(all.size() >= 6);
  // three names the run kept; one listed in another spelling
  std::vector<std::string> out(all.begin(), all.end());
  std::set<std::string> dropped{out[0], out[2], out[4]};
  std::string camel;
  for (size_t i = 0; i < out[4].size(); ++i)
    camel += (i > 0 && out[4][i - 1] == '_') ? char(std::toupper(out[4][i]))
                                             : out[4][i];
  camel.erase(std::remove(camel.begin(), camel.end(), '_'), camel.end());
  REQUIRE(evo::canonical_name(camel) == evo::canonical_name(out[4]));
  std::filesystem::create_directories(dir + "/lists");
  write_file(dir + "/lists/exclude.txt",
             "# benchmark entry points\n" + out[0] + "\n  " + out[2]
               + "  \r\n\n" + camel + "\n");
  auto sim = start_sim({"--seed", "9"}); // the same answers again
  auto cfg = write_datagen(dir, sim.base_url(),
                           "  name_regex: \"^[a-z_][a-z0-9_]{2,63}$\"\n"
                           "  exclude_names: lists/exclude.txt\n");
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--out", dir + "/two", "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto kept = names_of(dir + "/two/l2r/names.jsonl");
  std::set<std::string> expected;
  for (auto& n : all)
    if (dropped.count(n) == 0)
      expected.insert(n);
  CHECK(kept == expected);
  auto second = json::parse(read_file(dir + "/two/report.json"))["jobs"][0];
  CHECK(second["filtered"]["excluded"].get<uint64_t>() >= 3);
  CHECK(valid_of(first) == valid_of(second) + second["filtered"]["excluded"].get<uint64_t>());
  CHECK(r.out.find("filtered (excluded)") == std::string::npos); // no A/B with one mode
}

TEST_CASE("a missing exclude_names file is refused with file, line and key") {
  auto dir = make_temp_dir();
  auto cfg = write_datagen(dir, "http://127.0.0.1:9",
                           "  exclude_names: nowhere.txt\n");
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--quiet"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("datagen.yaml:7: key 'filters.exclude_names'")
        != std::string::npos);
  CHECK(r.err.find("nowhere.txt") != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/out"));
}

TEST_CASE("dedupe.canonical keeps one spelling of a name, counts the others") {
  auto dir = make_temp_dir();
  // the simulator's junk includes camelCase forms of its names
  auto sim = start_sim({"--seed", "3"});
  auto cfg = write_datagen(dir, sim.base_url(),
                           "  name_regex: \"^[A-Za-z_][A-Za-z0-9_]{2,63}$\"\n",
                           "dedupe:\n  canonical: true\n");
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "fim", "--num-batches", "300", "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::set<std::string> keys;
  for (auto& n : names_of(dir + "/out/fim/names.jsonl"))
    CHECK_MESSAGE(keys.insert(evo::canonical_name(n)).second,
                  "two spellings of " << n << " kept");
  auto job = json::parse(read_file(dir + "/out/report.json"))["jobs"][0];
  CHECK(job["canonical_duplicates"].get<uint64_t>() > 0);
}
