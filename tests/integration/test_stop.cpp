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
