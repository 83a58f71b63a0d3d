// A distributed run over its life: heads that end while refused exit, a
// worker restarted mid-run rejoins, losing every worker mid-run ends the run
// after the grace period and --resume finishes it without sending anything
// twice, the head's own pool next to workers, and workers from the config.
#include <doctest/doctest.h>

#include <csignal>

#include "tests/distributed/cluster_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1))
    ++n;
  return n;
}

void set_grace(const std::string& dir, const std::string& seconds) {
  auto cfg = read_file(dir + "/datagen.yaml");
  cfg.replace(cfg.find("grace_s: 5"), 10, "grace_s: " + seconds);
  write_file(dir + "/datagen.yaml", cfg);
}

size_t sim_requests(worker_node& w, const std::string& log) {
  w.sim.proc->signal(SIGTERM);
  w.sim.proc->wait(std::chrono::seconds(5));
  return read_sim_log(log).size();
}

} // namespace

// The head's cluster link was a detached actor: CAF's middleman could stop
// with the link's down_msg still in the BASP broker's mailbox, and the
// system's destructor then waited for ever for the link's thread (seen
// under ASan and on a loaded machine). Many heads at once, each ending while
// refused, make that window likely; every one must exit.
TEST_CASE("heads that end while a worker refuses them all exit") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  set_grace(dir, "1");
  auto wdir = make_temp_dir();
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1";
  c.top_extra = "cluster:\n  token: \"only-for-others\"\n";
  write_config(wdir, c);
  auto w = start_worker(dir, {}, {}, 4, wdir + "/datagen.yaml", "127.0.0.20");
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<child_process>> heads;
    for (int i = 0; i < 6; ++i)
      heads.push_back(std::make_unique<child_process>(std::vector<std::string>{
        std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
        "generate-names", "--config", dir + "/datagen.yaml", "--workers",
        w.address(), "--num-batches", "2", "--quiet", "--out",
        dir + "/out" + std::to_string(round) + "-" + std::to_string(i)}));
    for (auto& h : heads) {
      auto code = h->wait(std::chrono::seconds(60));
      auto err = h->drain_stderr();
      INFO(err);
      CHECK(code.value_or(-1) == 1); // nullopt: the head did not exit
      CHECK(err.find("no request actor for 1 s") != std::string::npos);
    }
  }
}

TEST_CASE("a worker restarted mid-run rejoins and the run completes, every "
          "item once") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  write_file(dir + "/manifest.yaml", two_jobs);
  auto w = start_worker(dir, {"--latency-ms", "40"}, {}, 4, "", "127.0.0.21");
  child_process head{head_run(dir, w.address())};
  auto journal = dir + "/out/journal.jsonl";
  REQUIRE(wait_journal(head, journal, 30));
  w.proc->signal(SIGKILL);
  w.proc->wait(std::chrono::seconds(10));
  std::string err;
  REQUIRE(wait_for_stderr(head, err, "declared dead", std::chrono::seconds(20)));
  auto before = read_lines(journal).size();
  REQUIRE(before < 240);
  // The same address, a fresh process with a server of its own: the only
  // way the run can finish is through it.
  auto log = dir + "/sim-restarted.jsonl";
  auto again = start_worker(dir, {"--latency-ms", "10", "--log-requests", log},
                            {}, 4, "", w.host, w.port);
  auto code = head.wait(std::chrono::seconds(60));
  err += head.drain_stderr();
  INFO(err);
  REQUIRE(code.value_or(-1) == 0);
  CHECK(count_of(err, "worker " + w.address() + " connected") == 2);
  size_t lines = 0;
  auto items = journal_items(journal, &lines);
  CHECK(lines == 240); // none twice
  for (auto job : {"a", "b"})
    CHECK(items[job].size() == 120); // none lost
  CHECK(sim_requests(again, log) >= 240 - before);
}

TEST_CASE("every worker dies mid-run: the run ends after the grace period, "
          "and --resume with a new worker sends only what is missing") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  set_grace(dir, "2");
  write_file(dir + "/manifest.yaml", two_jobs);
  auto w = start_worker(dir, {"--latency-ms", "40"}, {}, 4, "", "127.0.0.22");
  child_process head{head_run(dir, w.address())};
  auto journal = dir + "/out/journal.jsonl";
  REQUIRE(wait_journal(head, journal, 30));
  w.proc->signal(SIGKILL);
  auto code = head.wait(std::chrono::seconds(60));
  auto err = head.drain_stderr();
  INFO(err);
  CHECK(code.value_or(-1) == 1);
  CHECK(err.find("no request actor for 2 s (no worker reachable)")
        != std::string::npos);
  size_t done = 0;
  auto first = journal_items(journal, &done);
  REQUIRE(done < 240);
  CHECK(read_lines(dir + "/out/a/failures.jsonl").empty()); // none given up

  auto log = dir + "/sim-resume.jsonl";
  auto fresh = start_worker(dir, {"--log-requests", log}, {}, 4, "",
                            "127.0.0.23");
  auto argv = head_run(dir, fresh.address(), {"--resume"});
  auto r = run_cli({argv.begin() + 1, argv.end()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  size_t lines = 0;
  auto items = journal_items(journal, &lines);
  CHECK(lines == 240); // the first run's items and the rest, none twice
  for (auto job : {"a", "b"}) {
    CHECK(items[job].size() == 120);
    for (auto index : first[job])
      CHECK(items[job].count(index) == 1);
  }
  // The resumed run posted exactly what the journal did not hold.
  CHECK(sim_requests(fresh, log) == 240 - done);
}

TEST_CASE("the head's own pool (--local-pool) works next to the workers") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  auto head_log = dir + "/sim-head.jsonl";
  auto head_sim = start_sim({"--latency-ms", "20", "--log-requests", head_log});
  auto model = read_file(dir + "/model.yaml");
  model.replace(model.find("http://127.0.0.1:9/v1"), 21, head_sim.base_url());
  write_file(dir + "/model.yaml", model);
  auto log = dir + "/sim-worker.jsonl";
  auto w = start_worker(dir, {"--latency-ms", "20", "--log-requests", log}, {},
                        2, "", "127.0.0.24");
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", w.address(),
                    "--local-pool", "2", "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  for (auto& job : report["jobs"])
    CHECK(job["done"] == 30);
  head_sim.proc->signal(SIGTERM);
  head_sim.proc->wait(std::chrono::seconds(5));
  auto at_head = read_sim_log(head_log).size();
  auto at_worker = sim_requests(w, log);
  CHECK(at_head > 0);
  CHECK(at_worker > 0);
  CHECK(at_head + at_worker == 60);
}

TEST_CASE("workers listed in the config (cluster.workers) are used without "
          "--workers") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  write_head_config(dir);
  auto w = start_worker(dir, {"--log-requests", log}, {}, 4, "", "127.0.0.25");
  write_head_config(dir, "  workers: [\"" + w.address() + "\"]\n");
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("worker " + w.address() + " connected") != std::string::npos);
  CHECK(sim_requests(w, log) == 60);
}
