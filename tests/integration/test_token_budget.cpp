// api.concurrency.tokens_per_minute against the simulator executable: what
// the server's log sees in the first minute, the key's validation, and a
// request too big for the budget refused before anything is sent.
#include <doctest/doctest.h>

#include <csignal>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

// Tokens (prompt + completion) of the answered requests in the sim's log.
uint64_t logged_tokens(const std::string& log) {
  uint64_t sum = 0;
  for (auto& e : read_sim_log(log))
    if (e["status"] == 200)
      sum += e["prompt_tokens"].get<uint64_t>()
             + e["completion_tokens"].get<uint64_t>();
  return sum;
}

} // namespace

TEST_CASE("token budget: the first minute holds the budget, the run waits") {
  // Budget 2000; one request reserves 9 (the default prompt's 36 bytes / 4)
  // + max_tokens 16 x n 4 = 73 and uses about 30. 200 requests need about
  // three budgets: the first minute's share goes out at once, then the run
  // has to wait for the window to move.
  const uint64_t budget = 2000, reserve = 9 + 16 * 4;
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--latency-ms", "20", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.pool = 8;
  c.num_batches = 200;
  c.api_extra = "    tokens_per_minute: " + std::to_string(budget) + "\n";
  auto cfg = write_config(dir, c);
  child_process run{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
                     "generate-names", "--config", cfg, "--mode", "l2r"}};
  // Corrections free what the answers did not use: the server sees at least
  // budget - one reservation (less would leave room for another request).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (logged_tokens(log) < budget - reserve
         && std::chrono::steady_clock::now() < until && run.running())
    run.wait(std::chrono::milliseconds(50));
  auto first = logged_tokens(log);
  CHECK(first >= budget - reserve);
  // Observed for 3 s: the run is still going (held back, not finished) and
  // the server got nothing beyond budget + one reservation.
  CHECK_FALSE(run.wait(std::chrono::seconds(3)).has_value());
  auto later = logged_tokens(log);
  CHECK(later <= budget + reserve);
  run.signal(SIGINT);
  auto code = run.wait(std::chrono::seconds(20));
  auto err = run.drain_stderr();
  INFO(err);
  REQUIRE(code);
  CHECK(*code == 130);
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  auto total = logged_tokens(log);
  CHECK(total <= budget + reserve); // all within the first minute
  auto report = json::parse(read_file(dir + "/out/report.json"));
  CHECK(report["jobs"][0]["done"].get<uint64_t>() < 200);
  auto tb = report["token_budget"];
  CHECK(tb["tokens_per_minute"] == budget);
  CHECK(tb["used"] == total);
  CHECK(tb["reserved"].get<uint64_t>() >= tb["used"].get<uint64_t>());
  // Under a minute: one budget was there to use, and nearly all of it was.
  auto util = tb["utilisation"].get<double>();
  CHECK(util >= double(budget - reserve) / double(budget));
  CHECK(util <= double(budget + reserve) / double(budget));
}

TEST_CASE("token budget: a request that could never fit is a config error") {
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1"; // never contacted
  c.api_extra = "    tokens_per_minute: 50\n";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(dir + "/model.yaml:9: key 'api.concurrency.tokens_per_minute'")
        != std::string::npos);
  CHECK(r.err.find("reserves 73 tokens") != std::string::npos);
  CHECK(r.err.find("more than the budget of 50") != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/out/report.json"));
}

TEST_CASE("token budget: the key must be a positive integer") {
  auto dir = make_temp_dir();
  for (const char* bad : {"0", "-5", "lots", "1.5"}) {
    test_config c;
    c.base_url = "http://127.0.0.1:9/v1";
    c.api_extra = std::string{"    tokens_per_minute: "} + bad + "\n";
    auto cfg = write_config(dir, c);
    auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                      "l2r"});
    INFO(bad, r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("model.yaml:9: key 'api.concurrency.tokens_per_minute'")
          != std::string::npos);
  }
}
