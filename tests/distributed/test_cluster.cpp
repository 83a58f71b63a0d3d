// Distributed runs on loopback: a head and worker processes, each worker
// with its own simulator process, over CAF's middleman (and TLS).
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <set>

#include "tests/distributed/cluster_harness.hpp"

using namespace evo::test;
using nlohmann::json;


TEST_CASE("runs over two and three workers give the counts of a local run") {
  for (int workers : {2, 3}) {
    CAPTURE(workers);
    auto dir = make_temp_dir();
    write_head_config(dir);
    std::vector<worker_node> nodes;
    for (int i = 0; i < workers; ++i)
      nodes.push_back(start_worker(dir, {"--latency-ms", "10", "--log-requests",
                                         dir + "/sim" + std::to_string(i) + ".jsonl"}));
    auto r = run_cli({"datagen", "generate-names", "--config",
                      dir + "/datagen.yaml", "--workers",
                      join_addresses(nodes), "--quiet"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto report = json::parse(read_file(dir + "/out/report.json"));
    for (auto& job : report["jobs"]) {
      CHECK(job["requests"] == 30);
      CHECK(job["done"] == 30);
      CHECK(job["attempts"] == 30);
      CHECK(job["choices"] == 120);
      auto mode = job["mode"].get<std::string>();
      CHECK(job["kept"] == uids_of(dir + "/out/" + mode + "/names.jsonl").size());
    }
    // Every worker's server took part, and together they saw each request
    // once.
    size_t seen = 0;
    for (int i = 0; i < workers; ++i) {
      auto& n = nodes[static_cast<size_t>(i)];
      n.proc->signal(SIGTERM);
      CHECK(n.proc->wait(std::chrono::seconds(10)).value_or(-1) == 0);
      auto entries = read_sim_log(dir + "/sim" + std::to_string(i) + ".jsonl");
      CHECK_MESSAGE(!entries.empty(), "worker " << i << "'s server saw nothing");
      seen += entries.size();
    }
    CHECK(seen == 60);
  }
}

TEST_CASE("a worker killed with SIGKILL mid-run: the run completes, nothing "
          "lost or repeated") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  // No semaphore: every one of the 8 lent slots is busy, so worker 0 has
  // items in flight when it dies. (With semaphore_size 4 over 8 slots the
  // oldest-idle-first rotation hands out slots in blocks of four, one worker
  // at a time: in about half the runs worker 0 had nothing in flight at the
  // kill and nothing was re-queued, which is right but tests nothing.)
  auto model = read_file(dir + "/model.yaml");
  model.erase(model.find("    semaphore_size: 4\n"), 22);
  write_file(dir + "/model.yaml", model);
  std::vector<worker_node> nodes;
  nodes.push_back(start_worker(dir, {"--latency-ms", "40"}));
  nodes.push_back(start_worker(dir, {"--latency-ms", "40"}));
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 120}\n"
             "  - {name: b, mode: fim, prefix: \"def \", suffix: \"():\", num_batches: 120}\n");
  child_process head{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
                      "run", "--manifest", dir + "/manifest.yaml", "--workers",
                      join_addresses(nodes)}};
  // Kill worker 0 once some items are journaled (bounded wait).
  auto journal = dir + "/out/journal.jsonl";
  for (int i = 0; i < 500 && read_lines(journal).size() < 30; ++i)
    head.wait(std::chrono::milliseconds(10));
  REQUIRE(read_lines(journal).size() >= 30);
  nodes[0].proc->signal(SIGKILL);
  auto code = head.wait(std::chrono::seconds(60));
  auto err = head.drain_stderr();
  INFO(err);
  REQUIRE(code.value_or(-1) == 0);
  // The head noticed the death and put the items it had in flight there
  // back in the queue (that none is lost or repeated is checked below).
  CHECK(err.find("declared dead") != std::string::npos);
  CHECK(err.find("re-queueing") != std::string::npos);
  std::map<std::string, std::multiset<uint64_t>> items;
  for (auto& line : read_lines(journal)) {
    auto j = json::parse(line);
    if (j.contains("job"))
      items[j["job"].get<std::string>()].insert(j["index"].get<uint64_t>());
  }
  for (auto job : {"a", "b"}) {
    auto& got = items[job];
    CHECK(got.size() == 120); // each item once: none lost, none twice
    CHECK(std::set<uint64_t>(got.begin(), got.end()).size() == 120);
    uids_of(dir + "/out/" + std::string{job} + "/names.jsonl");
  }
}

TEST_CASE("one rate limit for the whole run, measured at every server") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  std::vector<worker_node> nodes;
  std::vector<std::string> logs;
  for (int i = 0; i < 3; ++i) {
    logs.push_back(dir + "/sim" + std::to_string(i) + ".jsonl");
    nodes.push_back(start_worker(dir, {"--log-requests", logs.back()}));
  }
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", join_addresses(nodes),
                    "--mode", "l2r", "--num-batches", "60", "--rate-limit",
                    "30", "--quiet"});
  REQUIRE(r.exit_code == 0);
  std::vector<int64_t> t;
  size_t servers_used = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].sim.proc->signal(SIGTERM);
    nodes[i].sim.proc->wait(std::chrono::seconds(5));
    auto entries = read_sim_log(logs[i]);
    servers_used += entries.empty() ? 0 : 1;
    for (auto& e : entries)
      t.push_back(e["t_us"].get<int64_t>());
  }
  CHECK(servers_used == 3);
  REQUIRE(t.size() == 60);
  std::sort(t.begin(), t.end());
  size_t lo = 0, worst = 0;
  for (size_t hi = 0; hi < t.size(); ++hi) {
    while (t[hi] - t[lo] >= 1000000)
      ++lo;
    worst = std::max(worst, hi - lo + 1);
  }
  CHECK(worst <= 31); // rate + burst 1, summed over the three servers
  CHECK(t.back() - t.front() >= 1900000); // 59 intervals of 1/30 s
}

TEST_CASE("a worker that starts late joins a running head") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  // Reserve a port for the late worker: start one, note its port, stop it.
  auto first = start_worker(dir);
  auto address = first.address();
  first.proc->signal(SIGTERM);
  first.proc->wait(std::chrono::seconds(10));
  child_process head{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
                      "generate-names", "--config", dir + "/datagen.yaml",
                      "--workers", address, "--num-batches", "10"}};
  // The head is up and waiting (it says so) before the worker exists.
  bool waiting = false;
  std::string err;
  for (int i = 0; i < 300 && !waiting; ++i) {
    head.wait(std::chrono::milliseconds(10));
    err += head.drain_stderr();
    waiting = err.find("waiting up to") != std::string::npos;
  }
  REQUIRE(waiting);
  auto sim = start_sim();
  child_process late{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "worker",
                      "--listen", address, "--config", dir + "/datagen.yaml",
                      "--base-url", sim.base_url()}};
  REQUIRE(late.read_line(std::chrono::seconds(10)));
  auto code = head.wait(std::chrono::seconds(30));
  err += head.drain_stderr();
  INFO(err);
  CHECK(code.value_or(-1) == 0);
  CHECK(err.find("worker " + address + " connected") != std::string::npos);
}

TEST_CASE("with every worker gone the run stops after the grace period") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", "127.0.0.1:1",
                    "--num-batches", "5"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no request actor for 5 s") != std::string::npos);
}

TEST_CASE("a worker of another protocol version or model is refused on both "
          "sides") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  auto old = start_worker(dir, {}, {"--protocol-version", "99"});
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", old.address(),
                    "--num-batches", "3"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("protocol version mismatch: head speaks 2") != std::string::npos);
  old.proc->signal(SIGTERM);
  old.proc->wait(std::chrono::seconds(10));
  CHECK(old.proc->drain_stderr().find("refusing head") != std::string::npos);

  // A worker configured for another model.
  write_file(dir + "/other.yaml", "model_config: model.yaml\nmodels:\n  default: other-model\n");
  auto sim = start_sim();
  child_process other{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "worker",
                       "--listen", "127.0.0.1:0", "--config",
                       dir + "/other.yaml", "--base-url", sim.base_url()}};
  auto line = other.read_line(std::chrono::seconds(10));
  REQUIRE(line);
  auto addr = line->substr(line->rfind(' ') + 1);
  auto r2 = run_cli({"datagen", "generate-names", "--config",
                     dir + "/datagen.yaml", "--workers", addr, "--num-batches",
                     "3"});
  CHECK(r2.exit_code == 1);
  CHECK(r2.err.find("incompatible config") != std::string::npos);
}

TEST_CASE("TLS: good certificates are accepted, a wrong CA is refused") {
  auto dir = make_temp_dir();
  // A test CA, certificates for head and worker, and a rogue CA + cert.
  child_process sh{{"bash", std::string{EVO_SOURCE_DIR} + "/tools/make-test-ca.sh",
                    dir + "/pki"}};
  REQUIRE(sh.wait(std::chrono::seconds(60)).value_or(-1) == 0);
  auto pki = dir + "/pki/";
  auto tls_yaml = [&](const std::string& who, const std::string& ca) {
    return "  tls:\n    certificate: " + pki + who + ".pem\n    key: " + pki
           + who + ".key\n    ca: " + pki + ca + "\n";
  };
  write_head_config(dir, tls_yaml("head", "ca.pem"));
  auto node = start_worker(dir, {},
                           {"--tls-cert", pki + "worker.pem", "--tls-key",
                            pki + "worker.key", "--tls-ca", pki + "ca.pem"});
  auto good = run_cli({"datagen", "generate-names", "--config",
                       dir + "/datagen.yaml", "--workers", node.address(),
                       "--num-batches", "5", "--quiet"});
  INFO(good.err);
  CHECK(good.exit_code == 0);

  write_head_config(dir, tls_yaml("rogue", "rogue-ca.pem"));
  auto bad = run_cli({"datagen", "generate-names", "--config",
                      dir + "/datagen.yaml", "--workers", node.address(),
                      "--num-batches", "5", "--out", dir + "/bad"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("certificate not accepted") != std::string::npos);
  CHECK(read_file(dir + "/bad/l2r/names.jsonl").empty());

  // A head without TLS cannot talk to a TLS worker either.
  write_head_config(dir);
  auto plain = run_cli({"datagen", "generate-names", "--config",
                        dir + "/datagen.yaml", "--workers", node.address(),
                        "--num-batches", "5", "--out", dir + "/plain"});
  CHECK(plain.exit_code == 1);
  CHECK(plain.err.find("does it require TLS?") != std::string::npos);
}
