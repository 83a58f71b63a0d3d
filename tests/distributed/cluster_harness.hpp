// Helpers of the distributed tests: worker processes (each in front of its
// own simulator) on loopback addresses, and the head's config.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/cli_harness.hpp"

namespace evo::test {

struct worker_node {
  running_sim sim;
  std::unique_ptr<child_process> proc;
  int port = 0;
  std::string host = "127.0.0.1";
  std::string address() const { return host + ":" + std::to_string(port); }
};

// A simulator and a worker in front of it, listening on `host` (a loopback
// address; `port` 0: any) with the config `config` (default
// dir/datagen.yaml).
inline worker_node start_worker(const std::string& dir,
                                std::vector<std::string> sim_args = {},
                                std::vector<std::string> worker_args = {},
                                int pool = 4, std::string config = "",
                                std::string host = "127.0.0.1",
                                int port = 0) {
  worker_node w;
  w.host = host;
  w.sim = start_sim(std::move(sim_args));
  std::vector<std::string> argv{std::string{EVO_BINARY_DIR} + "/evoselfcode",
                                "worker", "--listen",
                                host + ":" + std::to_string(port),
                                "--config",
                                config.empty() ? dir + "/datagen.yaml" : config,
                                "--base-url", w.sim.base_url(),
                                "--pool", std::to_string(pool)};
  argv.insert(argv.end(), worker_args.begin(), worker_args.end());
  w.proc = std::make_unique<child_process>(argv);
  auto line = w.proc->read_line(std::chrono::seconds(10));
  const std::string prefix = "worker listening on " + host + ":";
  REQUIRE_MESSAGE(line, "worker did not start: " << w.proc->drain_stderr());
  REQUIRE(line->rfind(prefix, 0) == 0);
  w.port = std::stoi(line->substr(prefix.size()));
  return w;
}

inline std::string join_addresses(const std::vector<worker_node>& ws) {
  std::string out;
  for (auto& w : ws)
    out += (out.empty() ? "" : ",") + w.address();
  return out;
}

inline std::set<std::string> uids_of(const std::string& path) {
  std::set<std::string> uids;
  for (auto& r : read_jsonl(path))
    CHECK(uids.insert(r["uid"].get<std::string>()).second);
  return uids;
}

// Waits (bounded) until `proc`'s stderr, accumulated in `err`, holds `what`.
inline bool wait_for_stderr(child_process& proc, std::string& err,
                            const std::string& what,
                            std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (err.find(what) == std::string::npos
         && std::chrono::steady_clock::now() < end) {
    bool exited = proc.wait(std::chrono::milliseconds(20)).has_value();
    err += proc.drain_stderr();
    if (exited)
      break;
  }
  return err.find(what) != std::string::npos;
}

// The base config: a head with no model server of its own.
inline void write_head_config(const std::string& dir, const std::string& extra = "") {
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1"; // never used: no local pool
  c.num_batches = 30;
  c.n = 4;
  c.top_extra = "cluster:\n  grace_s: 5\n" + extra;
  write_config(dir, c);
}

// A manifest of two jobs (l2r and fim, 120 requests each) over datagen.yaml.
inline const char* two_jobs =
  "base_config: datagen.yaml\njobs:\n"
  "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 120}\n"
  "  - {name: b, mode: fim, prefix: \"def \", suffix: \"():\", num_batches: "
  "120}\n";

// The head's command line for `datagen run` of dir/manifest.yaml.
inline std::vector<std::string> head_run(const std::string& dir,
                                         const std::string& workers,
                                         std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{std::string{EVO_BINARY_DIR} + "/evoselfcode",
                                "datagen", "run", "--manifest",
                                dir + "/manifest.yaml", "--workers", workers};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Waits (bounded) until the journal holds `n` lines.
inline bool wait_journal(child_process& head, const std::string& journal,
                         size_t n) {
  for (int i = 0; i < 1000 && read_lines(journal).size() < n; ++i)
    if (head.wait(std::chrono::milliseconds(10)))
      break;
  return read_lines(journal).size() >= n;
}

} // namespace evo::test
