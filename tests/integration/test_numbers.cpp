// The numbers a user reads, checked against what the server saw: the report
// (latency percentiles, tokens, req/s, unique ratio, A/B block, totals), the
// retry spacing, and a target_unique job's requests in the air. The
// simulator's request log is the reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <utility>
#include <vector>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

std::vector<json> stop_and_read_log(running_sim& sim, const std::string& log) {
  sim.proc->signal(SIGTERM);
  REQUIRE(sim.proc->wait(std::chrono::seconds(5)).has_value());
  return read_sim_log(log);
}

// Exact q-quantile (nearest rank) of v, in the same units.
double quantile(std::vector<double> v, double q) {
  REQUIRE(!v.empty());
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

// Most requests the server held at once: from arrival (t_us) to answer.
size_t max_in_flight(const std::vector<json>& log) {
  std::vector<std::pair<int64_t, int>> events;
  for (auto& e : log) {
    events.push_back({e["t_us"].get<int64_t>(), +1});
    events.push_back({e["end_us"].get<int64_t>(), -1});
  }
  std::sort(events.begin(), events.end()); // an end before a start at a tie
  size_t now = 0, worst = 0;
  for (auto& [t, d] : events) {
    now += d;
    worst = std::max(worst, now);
  }
  return worst;
}

} // namespace

TEST_CASE("report numbers: latency percentiles match the server's") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  // Latency uniform over [20, 220] ms: p50 ~120, p95 ~210, far apart. One
  // job, so the report's percentiles are over the same requests as the log.
  auto sim = start_sim({"--seed", "5", "--latency-ms", "20", "--jitter-ms",
                        "200", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 150;
  c.n = 2;
  c.pool = 16;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto entries = stop_and_read_log(sim, log);
  REQUIRE(entries.size() == 150);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  auto& job = report["jobs"][0];
  // Latency as the server saw it (arrival to answer); the client adds only
  // loopback and parsing, and its histogram buckets are ~1 % wide.
  std::vector<double> ms;
  for (auto& e : entries)
    ms.push_back((e["end_us"].get<double>() - e["t_us"].get<double>()) / 1000);
  for (auto [q, key] : {std::pair{0.50, "p50"}, {0.95, "p95"}, {0.99, "p99"}}) {
    auto server = quantile(ms, q);
    auto client = job["latency_ms"][key].get<double>();
    CAPTURE(key);
    CAPTURE(server);
    CAPTURE(client);
    CHECK(client >= server * 0.85 - 5);
    CHECK(client <= server * 1.15 + 50); // a loaded machine adds a little
  }
  // p95 is not the median: the spread of the latency shows in the report.
  CHECK(job["latency_ms"]["p95"].get<double>()
        > job["latency_ms"]["p50"].get<double>() * 1.3);
}

TEST_CASE("report numbers match the simulator's request log") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--seed", "5", "--latency-ms", "20", "--jitter-ms",
                        "40", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 100;
  c.n = 4;
  c.pool = 16;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto entries = stop_and_read_log(sim, log);
  REQUIRE(entries.size() == 200);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  REQUIRE(report["jobs"].size() == 2);
  uint64_t tokens = 0, choices = 0;
  for (auto& e : entries) {
    CHECK(e["status"] == 200);
    tokens += e["completion_tokens"].get<uint64_t>();
    choices += e["n"].get<uint64_t>();
  }
  auto& total = report["total"];

  // Tokens and choices: the sums of what the server answered.
  CHECK(total["completion_tokens"].get<uint64_t>() == tokens);
  CHECK(total["choices"].get<uint64_t>() == choices);
  CHECK(choices == 800);
  uint64_t jobs_tokens = 0, jobs_prompt = 0, jobs_kept = 0, jobs_attempts = 0;
  for (auto& job : report["jobs"]) {
    auto mode = job["mode"].get<std::string>();
    auto kept = job["kept"].get<uint64_t>();
    CHECK(kept == read_jsonl(dir + "/out/" + mode + "/names.jsonl").size());
    CHECK(job["unique_ratio"].get<double>()
          == doctest::Approx(double(kept) / job["choices"].get<double>()));
    CHECK(job["prompt_tokens"].get<uint64_t>() > 0);
    CHECK(job["completion_tokens"].get<uint64_t>() > 0);
    // req/s: requests over the job's wall time, which spans the server's
    // work on it and not much more.
    auto wall = job["wall_s"].get<double>();
    CHECK(job["requests_per_s"].get<double>()
          == doctest::Approx(100.0 / wall).epsilon(0.001));
    jobs_tokens += job["completion_tokens"].get<uint64_t>();
    jobs_prompt += job["prompt_tokens"].get<uint64_t>();
    jobs_kept += kept;
    jobs_attempts += job["attempts"].get<uint64_t>();
  }
  // Totals are the sums of the jobs.
  CHECK(total["completion_tokens"].get<uint64_t>() == jobs_tokens);
  CHECK(total["prompt_tokens"].get<uint64_t>() == jobs_prompt);
  CHECK(total["kept"].get<uint64_t>() == jobs_kept);
  CHECK(total["attempts"].get<uint64_t>() == jobs_attempts);
  CHECK(total["attempts"].get<uint64_t>() == entries.size());
  CHECK(total["requests"] == 200);
  // The run's req/s against the server's own span of work: the wall time
  // holds the span and at most a few seconds of start and stop.
  int64_t first = INT64_MAX, last = 0;
  for (auto& e : entries) {
    first = std::min(first, e["t_us"].get<int64_t>());
    last = std::max(last, e["end_us"].get<int64_t>());
  }
  auto span_s = double(last - first) / 1e6;
  auto wall = total["wall_s"].get<double>();
  CHECK(wall >= span_s * 0.99);
  CHECK(wall <= span_s + 5);
  CHECK(total["requests_per_s"].get<double>()
        == doctest::Approx(200.0 / wall).epsilon(0.001));

  // The A/B block compares the two jobs with the jobs' own numbers.
  REQUIRE(report["ab"].size() == 1);
  auto& ab = report["ab"][0]["metrics"];
  for (auto& job : report["jobs"]) {
    auto side = job["mode"].get<std::string>();
    CHECK(ab["requests"][side] == 100);
    CHECK(ab["choices"][side] == job["choices"]);
    CHECK(ab["kept"][side] == job["kept"]);
    CHECK(ab["unique ratio"][side].get<double>()
          == doctest::Approx(job["unique_ratio"].get<double>()));
    CHECK(ab["kept per request"][side].get<double>()
          == doctest::Approx(job["kept"].get<double>() / 100.0));
  }
  // The table on stdout says the same.
  CHECK(r.out.find("A/B") != std::string::npos);
}

TEST_CASE("retry spacing seen by the server follows backoff_base_s") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--fault-rate", "1", "--faults", "500",
                        "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 1;
  c.n = 1;
  c.pool = 1;
  c.max_retries = 3;
  c.backoff_base_s = 0.2;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "fim", "--quiet"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  auto entries = stop_and_read_log(sim, log);
  REQUIRE(entries.size() == 4); // 1 attempt + 3 retries of the one request
  // Backoff 0.2 s, 0.4 s, 0.8 s (+ up to 25 % jitter), from each answer to
  // the next arrival.
  for (size_t k = 1; k < entries.size(); ++k) {
    auto gap_ms = (entries[k]["t_us"].get<double>()
                   - entries[k - 1]["end_us"].get<double>()) / 1000;
    auto base = 200.0 * double(1 << (k - 1));
    CAPTURE(k);
    CAPTURE(gap_ms);
    CHECK(gap_ms >= base);
    CHECK(gap_ms <= base * 1.25 + 150); // loaded machine: scheduling slack
  }
  auto failures = read_jsonl(dir + "/out/fim/failures.jsonl");
  REQUIRE(failures.size() == 1);
}

TEST_CASE("a target_unique job keeps at most ceil(missing / names per "
          "request) in the air") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  // A vocabulary of a million names, taken by the job's regex: a request
  // yields one new name unless the simulator sends junk (an empty name,
  // ~2 %), so names per request is ~1 and the rule allows ~(30 - kept) in
  // the air. An unpaced job keeps the pool's 40 in the air and overshoots
  // a target of 30 by ~40 requests. No jitter: the first answers come
  // together, so the first estimate of names per request is a good one.
  auto sim = start_sim({"--seed", "9", "--latency-ms", "50", "--vocabulary",
                        "1000000", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.pool = 40;
  write_config(dir, c);
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: t, mode: l2r, prompt: \"def \", temperature: 1.5, "
             "n: 1, target_unique: 30, max_requests: 400, "
             "name_regex: \".*\"}\n");
  auto r = run_cli({"datagen", "run", "--manifest", dir + "/manifest.yaml",
                    "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto entries = stop_and_read_log(sim, log);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  auto& job = report["jobs"][0];
  CHECK(job["kept"].get<int>() >= 30);
  CHECK(job["attempts"].get<size_t>() == entries.size());
  // 30 missing at the start: 30 in the air, not the pool's 40 (one more
  // when a junk answer lowered the estimate); then about one more per
  // name still missing.
  CHECK(max_in_flight(entries) <= 31);
  CHECK(entries.size() <= 34);
}

TEST_CASE("the in-flight cap is min(pool, semaphore) as the server sees it") {
  struct sizes {
    int pool, semaphore;
  };
  for (auto [pool, semaphore] : {sizes{8, 3}, sizes{3, 8}}) {
    CAPTURE(pool);
    CAPTURE(semaphore);
    auto dir = make_temp_dir();
    auto log = dir + "/sim.jsonl";
    auto sim = start_sim({"--latency-ms", "60", "--log-requests", log});
    test_config c;
    c.base_url = sim.base_url();
    c.pool = pool;
    c.num_batches = 24;
    auto cfg = write_config(dir, c);
    auto model = read_file(dir + "/model.yaml");
    auto at = model.find("semaphore_size: " + std::to_string(pool));
    REQUIRE(at != std::string::npos);
    write_file(dir + "/model.yaml",
               model.replace(at, std::string{"semaphore_size: "}.size()
                                   + std::to_string(pool).size(),
                             "semaphore_size: " + std::to_string(semaphore)));
    auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                      "l2r", "--quiet"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto entries = stop_and_read_log(sim, log);
    REQUIRE(entries.size() == 24);
    // 24 requests of 60 ms: the cap is reached, never passed.
    CHECK(max_in_flight(entries) == 3);
  }
}
