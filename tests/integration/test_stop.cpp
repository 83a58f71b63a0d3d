// How a run is driven and how it ends: the in-flight cap the server sees,
// SIGINT/SIGTERM stops, resume after a stop or a smaller budget, request
// actors that die. The real binary against the simulator executable.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

// Most requests the server had open at once, from its log's
// [t_us, end_us] intervals.
int max_in_flight(const std::vector<json>& log) {
  std::vector<std::pair<int64_t, int>> edges;
  for (auto& e : log) {
    edges.emplace_back(e["t_us"].get<int64_t>(), +1);
    edges.emplace_back(e["end_us"].get<int64_t>(), -1);
  }
  std::sort(edges.begin(), edges.end()); // an end before a start at a tie
  int now = 0, most = 0;
  for (auto& [t, d] : edges) {
    now += d;
    most = std::max(most, now);
  }
  return most;
}

void stop_sim(running_sim& sim) {
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
}

} // namespace

TEST_CASE("without semaphore_size the pool is the in-flight cap (40)") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--latency-ms", "300", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.pool = 40;
  c.semaphore = false;
  c.num_batches = 120;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("in flight at most 40: pool 40 "
                   "(api.concurrency.max_concurrent_requests), "
                   "no semaphore_size")
        != std::string::npos);
  stop_sim(sim);
  auto entries = read_sim_log(log);
  REQUIRE(entries.size() == 120);
  CHECK(max_in_flight(entries) == 40);
}

TEST_CASE("semaphore_size under the pool caps what the server sees") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--latency-ms", "200", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.pool = 40;
  c.semaphore = false;
  c.api_extra = "    semaphore_size: 7\n"; // inside concurrency:
  c.num_batches = 40;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("in flight at most 7: pool 40") != std::string::npos);
  CHECK(r.err.find("semaphore_size 7 (api.concurrency.semaphore_size)")
        != std::string::npos);
  stop_sim(sim);
  CHECK(max_in_flight(read_sim_log(log)) == 7);
}

TEST_CASE("resume after the budget shrank reports what was done") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  write_config(dir, c);
  auto manifest = dir + "/manifest.yaml";
  auto write_manifest = [&](int batches) {
    write_file(manifest, "base_config: datagen.yaml\njobs:\n"
                         "  - {name: a, mode: l2r, prompt: \"def \", num_batches: "
                           + std::to_string(batches) + "}\n");
  };
  write_manifest(15);
  REQUIRE(run_cli({"datagen", "run", "--manifest", manifest, "--quiet"})
            .exit_code
          == 0);
  write_manifest(5);
  auto r = run_cli({"datagen", "run", "--manifest", manifest, "--resume"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto job = json::parse(read_file(dir + "/out/report.json"))["jobs"][0];
  CHECK(job["requests"] == 0);
  CHECK(job["resumed_items"] == 15);
  CHECK(job["done"] == 0);
  CHECK(r.out.find("18446744073709") == std::string::npos);
  // Growing it again sends only the new items.
  write_manifest(20);
  r = run_cli({"datagen", "run", "--manifest", manifest, "--resume"});
  REQUIRE(r.exit_code == 0);
  job = json::parse(read_file(dir + "/out/report.json"))["jobs"][0];
  CHECK(job["requests"] == 5);
  CHECK(job["done"] == 5);
  stop_sim(sim);
  CHECK(read_sim_log(log).size() == 20);
}

namespace {

std::string evo_binary() {
  return std::string{EVO_BINARY_DIR} + "/evoselfcode";
}

// Waits (bounded) until the simulator logged `count` finished requests:
// the run then has requests in flight (its pool refills at once).
bool wait_for_sim_log(child_process& run, const std::string& log,
                      size_t count, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (read_lines(log).size() >= count)
      return true;
    if (!run.running())
      return false;
    run.wait(std::chrono::milliseconds(20)); // returns early if it exits
  }
  return false;
}

// Waits (bounded) until the run's stderr holds `text`; returns all of it.
std::string wait_for_stderr(child_process& run, const std::string& text,
                            std::chrono::seconds limit) {
  std::string err;
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until
         && err.find(text) == std::string::npos && run.running()) {
    run.wait(std::chrono::milliseconds(20));
    err += run.drain_stderr();
  }
  return err;
}

// Item lines of the run's journal; `items`: the indices of job "a".
size_t journal_lines(const std::string& path, std::set<uint64_t>* items) {
  size_t n = 0;
  *items = journal_items(path, &n)["a"];
  return n;
}

std::string one_job_manifest(const std::string& dir, const std::string& url,
                             int batches, int pool) {
  test_config c;
  c.base_url = url;
  c.pool = pool;
  write_config(dir, c);
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: a, mode: l2r, prompt: \"def \", n: 2, num_batches: "
               + std::to_string(batches) + "}\n");
  return dir + "/manifest.yaml";
}

} // namespace

TEST_CASE("SIGINT: in-flight requests finish, report and journal are "
          "written, --resume sends nothing twice") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--latency-ms", "200", "--log-requests", log});
  auto manifest = one_job_manifest(dir, sim.base_url(), 60, 4);
  child_process run{{evo_binary(), "datagen", "run", "--manifest", manifest}};
  REQUIRE(wait_for_sim_log(run, log, 8, std::chrono::seconds(20)));
  run.signal(SIGINT);
  auto code = run.wait(std::chrono::seconds(20));
  auto err = run.drain_stderr();
  INFO(err);
  REQUIRE(code);
  CHECK(*code == 130);
  CHECK(err.find("stopping: no new requests") != std::string::npos);
  CHECK(err.find("interrupted by SIGINT") != std::string::npos);
  CHECK(err.find("datagen run --manifest " + manifest + " --resume")
        != std::string::npos);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  CHECK(report["interrupted"] == true);
  CHECK(report["jobs"][0]["stopped_by"] == "interrupted");
  auto sent = read_sim_log(log).size();
  std::set<uint64_t> items;
  // Every request the server answered was written and journaled.
  CHECK(journal_lines(dir + "/out/journal.jsonl", &items) == sent);
  CHECK(report["jobs"][0]["done"] == sent);
  CHECK(sent < 60);
  auto names = read_jsonl(dir + "/out/a/names.jsonl");
  CHECK(!names.empty());

  auto resumed = run_cli({"datagen", "run", "--manifest", manifest,
                          "--resume", "--quiet"});
  REQUIRE(resumed.exit_code == 0);
  stop_sim(sim);
  items.clear();
  CHECK(journal_lines(dir + "/out/journal.jsonl", &items) == 60);
  CHECK(items.size() == 60);
  CHECK(read_sim_log(log).size() == 60); // nothing sent twice
  auto second = json::parse(read_file(dir + "/out/report.json"));
  CHECK(second["interrupted"] == false);
  CHECK(second["jobs"][0]["stopped_by"] == "budget");
}

TEST_CASE("SIGTERM twice stops at once; whole lines only") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  // Slow answers: the first 4 arrive after 4 s; the next 4 would take 4 s
  // more, so a run that waited for them would take seconds.
  auto sim = start_sim({"--latency-ms", "4000", "--log-requests", log});
  auto manifest = one_job_manifest(dir, sim.base_url(), 40, 4);
  child_process run{{evo_binary(), "datagen", "run", "--manifest", manifest,
                     "--stop-grace-s", "60"}};
  REQUIRE(wait_for_sim_log(run, log, 4, std::chrono::seconds(30)));
  run.signal(SIGTERM);
  // Signals of one kind that are pending at once count once: the second
  // goes after the first was taken.
  auto err = wait_for_stderr(run, "stopping: no new requests",
                             std::chrono::seconds(10));
  REQUIRE(err.find("stopping: no new requests") != std::string::npos);
  run.signal(SIGTERM);
  auto start = std::chrono::steady_clock::now();
  auto code = run.wait(std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - start;
  err += run.drain_stderr();
  INFO(err);
  REQUIRE(code);
  CHECK(*code == 143);
  CHECK(took < std::chrono::milliseconds(3000));
  CHECK(err.find("stopping now") != std::string::npos);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  CHECK(report["interrupted"] == true);
  CHECK(report["jobs"][0]["done"] == 4);
  read_jsonl(dir + "/out/a/names.jsonl"); // fails on a torn line
  std::set<uint64_t> items;
  CHECK(journal_lines(dir + "/out/journal.jsonl", &items) == 4);
}

TEST_CASE("after a stop, attempts in flight get --stop-grace-s, no more") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--latency-ms", "4000", "--log-requests", log});
  auto manifest = one_job_manifest(dir, sim.base_url(), 40, 4);
  child_process run{{evo_binary(), "datagen", "run", "--manifest", manifest,
                     "--stop-grace-s", "0.5"}};
  REQUIRE(wait_for_sim_log(run, log, 4, std::chrono::seconds(30)));
  run.signal(SIGINT);
  auto start = std::chrono::steady_clock::now();
  auto code = run.wait(std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - start;
  INFO(run.drain_stderr());
  REQUIRE(code);
  CHECK(*code == 130);
  CHECK(took < std::chrono::milliseconds(3000));
  CHECK(json::parse(read_file(dir + "/out/report.json"))["interrupted"]
        == true);
}

TEST_CASE("a run that aborts (no worker left) writes report.json marked so") {
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1"; // never used: no local pool
  c.top_extra = "cluster:\n  grace_s: 0.5\n";
  auto cfg = write_config(dir, c);
  // A port nobody listens on: the worker never joins.
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--workers", "127.0.0.1:9"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  REQUIRE(report.contains("aborted"));
  CHECK(report["aborted"].get<std::string>().find("no request actor")
        != std::string::npos);
  CHECK(report["interrupted"] == false);
  CHECK(report["jobs"][0]["stopped_by"] == "aborted");
  CHECK(r.err.find("run aborted") != std::string::npos);
}
