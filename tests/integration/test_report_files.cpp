// The run's report files against what the server saw: the total row's
// latency percentiles over every job's requests, report.html next to
// report.json on a finished run and on an aborted one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <csignal>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

double exact_quantile(std::vector<double> v, double q) {
  REQUIRE(!v.empty());
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

} // namespace

TEST_CASE("report total: latency percentiles over both jobs' requests") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  // Uniform over [20, 220] ms: p50 ~120, p95 ~210.
  auto sim = start_sim({"--seed", "9", "--latency-ms", "20", "--jitter-ms",
                        "200", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 80;
  c.n = 2;
  c.pool = 16;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  sim.proc->signal(SIGTERM);
  REQUIRE(sim.proc->wait(std::chrono::seconds(5)).has_value());
  auto entries = read_sim_log(log);
  REQUIRE(entries.size() == 160);
  std::vector<double> ms;
  for (auto& e : entries)
    ms.push_back((e["end_us"].get<double>() - e["t_us"].get<double>()) / 1000);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  for (auto [q, key] : {std::pair{0.50, "p50"}, {0.95, "p95"}, {0.99, "p99"}}) {
    auto server = exact_quantile(ms, q);
    auto client = report["total"]["latency_ms"][key].get<double>();
    CAPTURE(key);
    CAPTURE(server);
    CAPTURE(client);
    CHECK(client >= server * 0.85 - 5);
    CHECK(client <= server * 1.15 + 50); // a loaded machine adds a little
  }
  // The series the page is drawn from: every attempt in the latency buckets.
  for (auto& job : report["jobs"]) {
    uint64_t counted = 0;
    for (auto& b : job["series"]["latency_ms"])
      counted += b[2].get<uint64_t>();
    CHECK(counted == job["attempts"].get<uint64_t>());
  }
  auto html = read_file(dir + "/out/report.html");
  CHECK(html.find("<p class=\"status\">finished") != std::string::npos);
  CHECK(html.find("<div class=\"cols pair\">") != std::string::npos);
}

TEST_CASE("an aborted run writes report.html next to report.json") {
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1"; // never used: no local pool
  c.top_extra = "cluster:\n  grace_s: 0.5\n";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--workers", "127.0.0.1:9"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  REQUIRE(file_exists(dir + "/out/report.json"));
  auto html = read_file(dir + "/out/report.html");
  CHECK(html.find("<p class=\"status\">aborted: ") != std::string::npos);
  CHECK(html.find("no request actor") != std::string::npos);
}
