// evoselfcode with api.concurrency.adaptive against the batch-model
// simulator whose knee (KV capacity 8) is far below the ceiling (128): the
// run ends with nothing failed and a limit that stayed below the ceiling.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

TEST_CASE("adaptive limit settles below the ceiling against a server with a low knee") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  // 8 sequences at once, 503 beyond 16 queued: a fixed 128 in flight
  // would be answered with 503s.
  auto sim = start_sim({"--batch-model", "--kv-capacity", "8", "--overload-queue", "16",
                        "--step-base-ms", "2", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.n = 1;
  c.pool = 128;
  c.max_retries = 5;
  c.api_extra = "    adaptive: true\n    min: 2\n"; // inside concurrency:
  auto cfg = write_config(dir, c);
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode", "l2r",
                    "--num-batches", "1500", "-n", "1", "--out", dir + "/out"},
                   {}, std::chrono::seconds(90));
  auto wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  sim.proc->signal(SIGTERM);
  REQUIRE(sim.proc->wait(std::chrono::seconds(10)).has_value());
  auto rep = json::parse(read_file(dir + "/out/report.json"));
  CHECK(rep["jobs"][0]["done"] == 1500);
  CHECK(rep["jobs"][0]["failed"] == 0);
  REQUIRE(rep.contains("concurrency_limit"));
  auto lim = rep["concurrency_limit"];
  MESSAGE("wall " << wall_s << " s, limit " << lim.dump());
  CHECK(lim["min"] == 2); // starts at the floor
  CHECK(lim["max"].get<int>() < 128);
  CHECK(lim["final"].get<int>() < 128);
  CHECK(lim["final"].get<int>() >= 2);
  auto series = lim["series"];
  REQUIRE(series.size() >= 2);
  CHECK(series[0][0].get<double>() == 0.0);
  CHECK(series[series.size() - 1][1] == lim["final"]);
}
