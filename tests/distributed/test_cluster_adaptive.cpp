// api.concurrency.adaptive with worker nodes whose servers differ: the head
// keeps one limit per node, so the small server is not flooded while the
// big one is driven harder, and every item is done once.
#include <doctest/doctest.h>

#include <csignal>

#include "tests/distributed/cluster_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

// A head with api.concurrency.adaptive and no run-wide ceiling (each
// node's is what it lends); no model server of its own unless the caller
// sets base_url and runs with --local-pool.
test_config adaptive_head(int pool) {
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1"; // never used: no local pool
  c.n = 1;
  c.pool = pool;
  c.semaphore = false;
  c.max_retries = 8;
  c.api_extra = "    adaptive: true\n"; // inside concurrency:
  c.top_extra = "cluster:\n  grace_s: 5\n";
  return c;
}

// report.json's concurrency_limit and its two nodes' entries, `first`'s
// and the other's.
struct two_node_limits {
  json run, first, other;
};

two_node_limits limits_of(const std::string& dir, const worker_node& first,
                          const worker_node& other) {
  two_node_limits out;
  out.run = json::parse(read_file(dir + "/out/report.json"))["concurrency_limit"];
  MESSAGE("limits: " << out.run.dump());
  REQUIRE(out.run["nodes"].size() == 2);
  for (auto& n : out.run["nodes"])
    (n["node"] == first.address() ? out.first : out.other) = n;
  REQUIRE(out.first["node"] == first.address());
  REQUIRE(out.other["node"] == other.address());
  return out;
}

} // namespace

TEST_CASE("adaptive with two workers: each node gets its own limit, the "
          "small server sees few overload answers") {
  auto dir = make_temp_dir();
  write_config(dir, adaptive_head(128));
  // The small server runs 2 sequences at once and answers 503 beyond 2
  // queued; the big one 32 (its knee), 503 only beyond 64 queued. Both
  // lend 48 request actors: far more than the small one can take.
  auto small_log = dir + "/small.jsonl", big_log = dir + "/big.jsonl";
  std::vector<worker_node> nodes;
  nodes.push_back(start_worker(dir,
                               {"--batch-model", "--kv-capacity", "2",
                                "--overload-queue", "2", "--step-base-ms", "2",
                                "--log-requests", small_log},
                               {}, 48, "", "127.0.0.11"));
  nodes.push_back(start_worker(dir,
                               {"--batch-model", "--kv-capacity", "32",
                                "--overload-queue", "64", "--step-base-ms", "2",
                                "--log-requests", big_log},
                               {}, 48, "", "127.0.0.12"));
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 1000}\n"
             "  - {name: b, mode: fim, prefix: \"def \", suffix: \"():\", "
             "num_batches: 1000}\n");
  child_process head{head_run(dir, join_addresses(nodes))};
  auto code = head.wait(std::chrono::seconds(60));
  auto err = head.drain_stderr();
  INFO(err);
  REQUIRE(code.value_or(-1) == 0);

  // Every item done once.
  size_t lines = 0;
  auto items = journal_items(dir + "/out/journal.jsonl", &lines);
  CHECK(lines == 2000);
  for (auto job : {"a", "b"}) {
    CAPTURE(job);
    CHECK(items[job].size() == 1000);
    uids_of(dir + "/out/" + std::string{job} + "/names.jsonl");
  }

  // Each node its own limit: the small one stays near its 2, the big one
  // climbs well past it.
  auto [lim, small, big] = limits_of(dir, nodes[0], nodes[1]);
  CHECK(small["base_url"] == nodes[0].sim.base_url());
  CHECK(small["max"].get<int>() <= 8);
  CHECK(small["max"].get<int>() >= 2); // its own answers raised it
  CHECK(big["max"].get<int>() >= 16);
  CHECK(small["final"].get<int>() < big["final"].get<int>());
  // The run's limit is their sum.
  CHECK(lim["final"].get<int>()
        == small["final"].get<int>() + big["final"].get<int>());

  // The small server was not flooded: few of its answers said 503.
  size_t small_requests = 0, small_overloads = 0;
  for (auto& r : read_sim_log(small_log)) {
    ++small_requests;
    if (r.value("fault", "") == "overload")
      ++small_overloads;
  }
  MESSAGE("small server: " << small_requests << " requests, "
                           << small_overloads << " overload answers");
  CHECK(small_requests > 0);
  CHECK(small_overloads * 20 <= small_requests); // at most 5 %
}

TEST_CASE("adaptive with --local-pool: the head's own pool is one more node, "
          "its server's address redacted") {
  auto dir = make_temp_dir();
  auto local = start_sim({"--batch-model", "--kv-capacity", "2",
                          "--overload-queue", "2", "--step-base-ms", "2"});
  auto c = adaptive_head(128);
  auto url = local.base_url();
  c.base_url = url.replace(0, 7, "http://user:secret@"); // after "http://"
  write_config(dir, c);
  auto big = start_worker(dir,
                          {"--batch-model", "--kv-capacity", "32",
                           "--overload-queue", "64", "--step-base-ms", "2"},
                          {}, 48, "", "127.0.0.13");
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", big.address(),
                    "--local-pool", "32", "--mode", "l2r", "-n", "1",
                    "--num-batches", "1500", "--out", dir + "/out"},
                   {}, std::chrono::seconds(60));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto text = read_file(dir + "/out/report.json");
  CHECK(text.find("secret") == std::string::npos);
  CHECK(r.err.find("secret") == std::string::npos);
  auto rep = json::parse(text);
  CHECK(rep["jobs"][0]["done"] == 1500);
  CHECK(rep["jobs"][0]["failed"] == 0);
  auto nodes = rep["concurrency_limit"]["nodes"];
  MESSAGE("nodes: " << nodes.dump());
  REQUIRE(nodes.size() == 2);
  json own, worker;
  for (auto& n : nodes)
    (n["node"] == "local" ? own : worker) = n;
  REQUIRE(own["node"] == "local");
  REQUIRE(worker["node"] == big.address());
  CHECK(own["base_url"].get<std::string>().find("***@127.0.0.1:")
        != std::string::npos);
  CHECK(own["max"].get<int>() <= 8);
  CHECK(own["max"].get<int>() < worker["max"].get<int>());
}

TEST_CASE("adaptive with two workers, one killed with SIGKILL mid-run: its "
          "node leaves, the other carries the run, every item once") {
  auto dir = make_temp_dir();
  write_config(dir, adaptive_head(64));
  // Steps of 10 ms: ~50 ms a request, so the killed worker has attempts in
  // flight (slow start has put its limit above 1) when it dies.
  std::vector<worker_node> nodes;
  for (const char* host : {"127.0.0.14", "127.0.0.15"})
    nodes.push_back(start_worker(dir,
                                 {"--batch-model", "--kv-capacity", "16",
                                  "--overload-queue", "32", "--step-base-ms", "10"},
                                 {}, 16, "", host));
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 300}\n"
             "  - {name: b, mode: fim, prefix: \"def \", suffix: \"():\", "
             "num_batches: 300}\n");
  child_process head{head_run(dir, join_addresses(nodes))};
  auto journal = dir + "/out/journal.jsonl";
  REQUIRE(wait_journal(head, journal, 100));
  nodes[0].proc->signal(SIGKILL);
  nodes[0].proc->wait(std::chrono::seconds(10));
  std::string err;
  REQUIRE(wait_for_stderr(head, err, "declared dead", std::chrono::seconds(20)));
  REQUIRE(read_lines(journal).size() < 600); // killed mid-run
  auto code = head.wait(std::chrono::seconds(60));
  err += head.drain_stderr();
  INFO(err);
  REQUIRE(code.value_or(-1) == 0);
  // Its attempts in flight went back to the queue (none lost, below).
  CHECK(err.find("re-queueing") != std::string::npos);

  size_t lines = 0;
  auto items = journal_items(journal, &lines);
  CHECK(lines == 600); // none twice
  for (auto job : {"a", "b"})
    CHECK(items[job].size() == 300); // none lost

  // The dead node left: it holds nothing at the end, its series ends at 0,
  // and the run's limit is the survivor's alone.
  auto [lim, dead, alive] = limits_of(dir, nodes[0], nodes[1]);
  CHECK(dead["max"].get<int>() >= 2); // it was driven before it died
  CHECK(dead["final"] == 0);
  REQUIRE(!dead["series"].empty());
  CHECK(dead["series"].back()[1] == 0);
  CHECK(alive["final"].get<int>() >= 1);
  CHECK(lim["final"] == alive["final"]);
}
