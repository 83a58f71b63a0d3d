// `datagen run`: manifests over one pool, fairness, target_unique, resume
// after kill -9, refusals; checked through the files and the simulator log.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <random>
#include <set>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

// A base config pointing at `base_url` plus a manifest of `jobs_yaml`.
std::string write_manifest(const std::string& dir, const std::string& base_url,
                           const std::string& jobs_yaml, int pool = 4,
                           const std::string& extra = "") {
  test_config c;
  c.base_url = base_url;
  c.pool = pool;
  write_config(dir, c);
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\n" + extra + "jobs:\n" + jobs_yaml);
  return dir + "/manifest.yaml";
}

std::set<std::string> uids_of(const std::string& names_jsonl) {
  std::set<std::string> uids;
  for (auto& r : read_jsonl(names_jsonl)) {
    auto uid = r["uid"].get<std::string>();
    CHECK_MESSAGE(uids.insert(uid).second, "duplicate uid " << uid);
  }
  return uids;
}

} // namespace

TEST_CASE("the shipped example manifest runs on the embedded simulator") {
  auto dir = make_temp_dir();
  auto r = run_cli({"datagen", "run", "--manifest",
                    std::string{EVO_SOURCE_DIR}
                      + "/configs/manifests/example.yaml",
                    "--out", dir + "/out"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  REQUIRE(report["jobs"].size() >= 4);
  std::set<std::string> modes;
  for (auto& job : report["jobs"]) {
    auto name = job["name"].get<std::string>();
    modes.insert(job["mode"].get<std::string>());
    auto uids = uids_of(dir + "/out/" + name + "/names.jsonl");
    CHECK(job["kept"] == uids.size());
    CHECK(job["failed"] == 0);
    if (job["target_unique"].get<int>() > 0)
      CHECK(job["kept"].get<int>() >= job["target_unique"].get<int>());
  }
  CHECK(modes == std::set<std::string>{"fim", "l2r"});
  CHECK(report["ab"].size() >= 1);
  CHECK(r.out.find("A/B") != std::string::npos);
}

TEST_CASE("jobs are interleaved over the pool: none starves another") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--log-requests", log});
  // Told apart in the server log by their n.
  auto manifest = write_manifest(dir, sim.base_url(),
                                 "  - {name: a, mode: l2r, prompt: \"def \", n: 2, num_batches: 60}\n"
                                 "  - {name: b, mode: l2r, prompt: \"def \", n: 3, num_batches: 60}\n"
                                 "  - {name: c, mode: fim, prefix: \"def \", suffix: \"():\", n: 5, num_batches: 60}\n",
                                 2);
  auto r = run_cli({"datagen", "run", "--manifest", manifest, "--quiet"});
  REQUIRE(r.exit_code == 0);
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  auto entries = read_sim_log(log);
  REQUIRE(entries.size() == 180);
  std::sort(entries.begin(), entries.end(), [](const json& x, const json& y) {
    return x["t_us"].get<int64_t>() < y["t_us"].get<int64_t>();
  });
  // In every window of 30 consecutive arrivals each job has its share
  // (10) give or take a few.
  for (size_t start = 0; start + 30 <= entries.size(); start += 30) {
    std::map<int, int> per_n;
    for (size_t i = start; i < start + 30; ++i)
      ++per_n[entries[i]["n"].get<int>()];
    for (int n : {2, 3, 5})
      CHECK_MESSAGE(std::abs(per_n[n] - 10) <= 2,
                    "window at " << start << ": job with n=" << n << " got "
                                 << per_n[n]);
  }
}

TEST_CASE("target_unique stops at max_requests when the model repeats itself") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--log-requests", log});
  // Temperature 0: the simulator repeats a handful of names.
  auto manifest = write_manifest(
    dir, sim.base_url(),
    "  - {name: stuck, mode: l2r, prompt: \"def \", temperature: 0.0, n: 4, "
    "target_unique: 100, max_requests: 40}\n"
    "  - {name: easy, mode: l2r, prompt: \"def \", temperature: 1.5, n: 8, "
    "target_unique: 30, max_requests: 400}\n");
  auto r = run_cli({"datagen", "run", "--manifest", manifest});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  auto& stuck = report["jobs"][0];
  auto& easy = report["jobs"][1];
  CHECK(stuck["requests"] == 40);
  CHECK(stuck["kept"].get<int>() < 100);
  CHECK(r.err.find("stuck: max_requests (40) reached") != std::string::npos);
  CHECK(easy["kept"].get<int>() >= 30);
  CHECK(easy["requests"].get<int>() < 400);
  CHECK(easy["kept"] == uids_of(dir + "/out/easy/names.jsonl").size());
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  CHECK(read_sim_log(log).size() == stuck["requests"].get<size_t>()
                                      + easy["requests"].get<size_t>());
}

TEST_CASE("resume after kill -9 at ten random moments loses and repeats nothing") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--latency-ms", "20", "--seed", "9"});
  auto manifest = write_manifest(
    dir, sim.base_url(),
    "  - {name: f, mode: fim, prefix: \"def \", suffix: \"():\", n: 4, num_batches: 150}\n"
    "  - {name: l, mode: l2r, prompt: \"def \", n: 4, num_batches: 150}\n"
    "  - {name: t, mode: l2r, prompt: \"def \", temperature: 1.5, n: 8, target_unique: 400, max_requests: 300}\n",
    8);
  auto journal = dir + "/out/journal.jsonl";
  std::mt19937 rng{42};
  size_t kills = 0;
  for (int round = 0; round < 14 && kills < 10; ++round) {
    std::vector<std::string> args{std::string{EVO_BINARY_DIR} + "/evoselfcode",
                                  "datagen", "run", "--manifest", manifest,
                                  "--quiet"};
    if (round > 0)
      args.push_back("--resume");
    child_process proc{args};
    size_t before = 0;
    journal_items(journal, &before);
    // Kill once a random number of further items are journaled.
    size_t wait_for = before + 3 + rng() % 25;
    for (int i = 0; i < 400; ++i) {
      size_t now = 0;
      if (file_exists(journal))
        journal_items(journal, &now);
      if (now >= wait_for || !proc.running())
        break;
      proc.wait(std::chrono::milliseconds(10));
    }
    if (proc.running()) {
      proc.signal(SIGKILL);
      ++kills;
    }
    proc.wait(std::chrono::seconds(5));
    for (auto job : {"f", "l", "t"})
      uids_of(dir + "/out/" + std::string{job} + "/names.jsonl");
  }
  CHECK(kills == 10);
  auto last = run_cli({"datagen", "run", "--manifest", manifest, "--resume",
                       "--quiet"});
  INFO(last.err);
  REQUIRE(last.exit_code == 0);
  size_t lines = 0;
  auto items = journal_items(journal, &lines);
  // Every item exactly once in the journal, over all the runs.
  CHECK(items["f"].size() == 150);
  CHECK(items["l"].size() == 150);
  CHECK(*items["f"].rbegin() == 149);
  CHECK(lines == items["f"].size() + items["l"].size() + items["t"].size());
  for (auto job : {"f", "l", "t"}) {
    auto uids = uids_of(dir + "/out/" + std::string{job} + "/names.jsonl");
    auto table = read_lines(dir + "/out/" + std::string{job} + "/hash_table.txt");
    CHECK(table.size() == uids.size());
  }
  CHECK(uids_of(dir + "/out/t/names.jsonl").size() >= 400);
  // The same plan run without interruption does the same work items.
  auto whole = make_temp_dir();
  write_file(whole + "/manifest.yaml", read_file(manifest));
  for (auto f : {"/datagen.yaml", "/model.yaml"})
    write_file(whole + f, read_file(dir + f));
  auto straight = run_cli({"datagen", "run", "--manifest",
                           whole + "/manifest.yaml", "--out", whole + "/out",
                           "--quiet"});
  REQUIRE(straight.exit_code == 0);
  size_t straight_lines = 0;
  auto straight_items = journal_items(whole + "/out/journal.jsonl",
                                      &straight_lines);
  CHECK(straight_items["f"] == items["f"]);
  CHECK(straight_items["l"] == items["l"]);
  CHECK(uids_of(whole + "/out/t/names.jsonl").size() >= 400);
  // A finished run resumed again sends nothing.
  auto again = run_cli({"datagen", "run", "--manifest", manifest, "--resume",
                        "--quiet"});
  CHECK(again.exit_code == 0);
  size_t lines_after = 0;
  journal_items(journal, &lines_after);
  CHECK(lines_after == lines);
}

TEST_CASE("a folder holding a run is refused without --resume") {
  auto dir = make_temp_dir();
  auto sim = start_sim();
  auto manifest = write_manifest(
    dir, sim.base_url(),
    "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 3}\n");
  REQUIRE(run_cli({"datagen", "run", "--manifest", manifest, "--quiet"})
            .exit_code
          == 0);
  auto names_before = read_file(dir + "/out/a/names.jsonl");
  auto again = run_cli({"datagen", "run", "--manifest", manifest});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("--resume") != std::string::npos);
  CHECK(read_file(dir + "/out/a/names.jsonl") == names_before);
}

TEST_CASE("dedupe: global keeps a name in one job only") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--seed", "4"});
  auto manifest = write_manifest(
    dir, sim.base_url(),
    "  - {name: a, mode: l2r, prompt: \"def \", temperature: 0.3, n: 8, num_batches: 10}\n"
    "  - {name: b, mode: l2r, prompt: \"def \", temperature: 0.3, n: 8, num_batches: 10}\n",
    4, "dedupe: global\n");
  auto r = run_cli({"datagen", "run", "--manifest", manifest, "--quiet"});
  REQUIRE(r.exit_code == 0);
  auto a = uids_of(dir + "/out/a/names.jsonl");
  auto b = uids_of(dir + "/out/b/names.jsonl");
  for (auto& uid : a)
    CHECK_MESSAGE(b.count(uid) == 0, "uid " << uid << " kept by both jobs");
  CHECK(!a.empty());
}

TEST_CASE("a bad manifest is refused before any request, nothing written") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--log-requests", log});
  auto manifest = write_manifest(
    dir, sim.base_url(),
    "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 3}\n"
    "  - {name: a, mode: fim, prefix: \"def \", suffix: \"\", num_batches: 3}\n");
  auto r = run_cli({"datagen", "run", "--manifest", manifest});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("manifest.yaml:") != std::string::npos);
  CHECK(r.err.find("'a'") != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/out"));
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  CHECK(read_sim_log(log).empty());
}
