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

TEST_CASE("api.embedded.batch_model reaches the embedded simulator: its overload answers") {
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "embedded";
  c.n = 1;
  c.pool = 6;
  c.max_retries = 10;
  // 2 sequences at once, 1 queued: of 6 sent at once, some are answered
  // 503 (with Retry-After: 1) and retried.
  c.api_extra = "  embedded:\n    batch_model: true\n    kv_capacity: 2\n"
                "    overload_queue: 1\n    step_base_ms: 1\n";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode", "l2r",
                    "--num-batches", "12", "-n", "1", "--quiet", "--out", dir + "/out"},
                   {}, std::chrono::seconds(90));
  INFO("stderr: " << r.err);
  REQUIRE((r.exit_code == 0 || r.exit_code == 3));
  auto job = json::parse(read_file(dir + "/out/report.json"))["jobs"][0];
  CHECK(job["attempts"].get<int>() > job["done"].get<int>() + job["failed"].get<int>());
}

TEST_CASE("api.embedded.prefill_per_token_ms reaches the embedded simulator") {
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "embedded";
  c.n = 1;
  c.pool = 1; // one at a time: each request's prefill is its own step
  c.api_extra = "  embedded:\n    batch_model: true\n    step_base_ms: 0\n"
                "    step_per_seq_ms: 0\n    prefill_per_token_ms: 5\n";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode", "l2r",
                    "--num-batches", "6", "-n", "1", "--quiet", "--out", dir + "/out"},
                   {}, std::chrono::seconds(60));
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto rep = json::parse(read_file(dir + "/out/report.json"));
  auto prompt_tokens = rep["jobs"][0]["prompt_tokens"].get<double>();
  REQUIRE(prompt_tokens > 0);
  // The requests ran one after the other, each waiting 5 ms per prompt
  // token before its first step: the run lasted at least that long.
  CHECK(rep["wall_s"].get<double>() >= prompt_tokens * 0.005);
}

TEST_CASE("api.embedded.capacity_schedule reaches the embedded simulator") {
  // Eight requests at once, 20 ms per decode step and one token per step:
  // with the whole capacity they share their steps; with a schedule of one
  // sequence from second 0 they run one after the other, so the run lasts
  // at least the sum of their steps.
  struct result { double wall_s, steps_s; };
  auto run = [](const std::string& schedule) {
    auto dir = make_temp_dir();
    test_config c;
    c.base_url = "embedded";
    c.n = 1;
    c.pool = 8;
    c.api_extra = "  embedded:\n    batch_model: true\n    step_base_ms: 20\n"
                  "    step_per_seq_ms: 0\n    kv_capacity: 8\n" + schedule;
    auto cfg = write_config(dir, c);
    auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode", "l2r",
                      "--num-batches", "8", "-n", "1", "--quiet", "--out", dir + "/out"},
                     {}, std::chrono::seconds(60));
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto rep = json::parse(read_file(dir + "/out/report.json"));
    auto tokens = rep["jobs"][0]["completion_tokens"].get<double>();
    REQUIRE(tokens > 0);
    return result{rep["wall_s"].get<double>(), tokens * 0.020};
  };
  const auto shared = run("");
  CHECK(shared.wall_s < 0.5 * shared.steps_s); // the steps were shared
  const auto one = run("    capacity_schedule: \"0:1\"\n");
  CHECK(one.wall_s >= 0.95 * one.steps_s);
}
