// Distributed runs that meet trouble: a worker that hangs (SIGSTOP), a slow
// worker whose answers come after the head gave up on them, a listed port
// that never completes the CAF handshake or drops connection attempts, and
// a worker stopped with SIGTERM mid-run.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "tests/distributed/cluster_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

void check_each_item_once(const std::string& dir) {
  size_t lines = 0;
  auto items = journal_items(dir + "/out/journal.jsonl", &lines);
  CHECK(lines == 240); // none twice: one line per item of the two jobs
  for (auto job : {"a", "b"}) {
    CAPTURE(job);
    CHECK(items[job].size() == 120); // none lost
    uids_of(dir + "/out/" + std::string{job} + "/names.jsonl");
  }
}

// A TCP listener that accepts connections and never says a word.
struct mute_listener {
  int fd = -1;
  int port = 0;
  std::atomic<bool> stop{false};
  std::vector<int> conns;
  std::thread thread;
  mute_listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread = std::thread([this] {
      while (!stop) {
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0)
          return;
        conns.push_back(c);
      }
    });
  }
  ~mute_listener() {
    stop = true;
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    thread.join();
    for (int c : conns)
      ::close(c);
  }
};

// A port whose accept queue is full: the kernel drops further SYNs, so a
// connect() there hangs as towards an address that drops packets.
struct dropping_port {
  int fd = -1;
  int port = 0;
  std::vector<int> fillers;
  dropping_port() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 0) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    for (int i = 0; i < 4; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a));
      fillers.push_back(c);
    }
  }
  ~dropping_port() {
    for (int c : fillers)
      ::close(c);
    ::close(fd);
  }
};

} // namespace

TEST_CASE("a worker that hangs (SIGSTOP) mid-run: the run completes, every "
          "item once") {
  auto dir = make_temp_dir();
  write_head_config(dir, "  heartbeat_s: 0.3\n  dead_after_s: 1.5\n");
  std::vector<worker_node> nodes;
  nodes.push_back(start_worker(dir, {"--latency-ms", "40"}, {}, 4, "",
                               "127.0.0.2"));
  nodes.push_back(start_worker(dir, {"--latency-ms", "40"}, {}, 4, "",
                               "127.0.0.3"));
  write_file(dir + "/manifest.yaml", two_jobs);
  child_process head{head_run(dir, join_addresses(nodes))};
  REQUIRE(wait_journal(head, dir + "/out/journal.jsonl", 30));
  nodes[0].proc->signal(SIGSTOP);
  std::string err;
  // The head notices without any connection closing...
  bool noticed = wait_for_stderr(head, err, "declared dead",
                                 std::chrono::seconds(20));
  // ...and the answers the hung worker sends once it runs again are
  // dropped, not written a second time.
  nodes[0].proc->signal(SIGCONT);
  auto code = head.wait(std::chrono::seconds(60));
  err += head.drain_stderr();
  INFO(err);
  CHECK(noticed);
  REQUIRE(code.value_or(-1) == 0);
  check_each_item_once(dir);
}

TEST_CASE("answers that come after the attempt deadline are dropped, and the "
          "items are done once elsewhere") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  // The head gives an attempt 0.5 + 5 s; the slow worker's own timeout (its
  // config: 30 s) lets its server take 6 s; the run lasts longer than that.
  auto model = read_file(dir + "/model.yaml");
  auto slow_dir = make_temp_dir();
  auto slow_model = model;
  slow_model.replace(slow_model.find("timeout_s: 5"), 12, "timeout_s: 30");
  write_file(slow_dir + "/model.yaml", slow_model);
  write_file(slow_dir + "/datagen.yaml", read_file(dir + "/datagen.yaml"));
  model.replace(model.find("timeout_s: 5"), 12, "timeout_s: 0.5");
  write_file(dir + "/model.yaml", model);
  std::vector<worker_node> nodes;
  nodes.push_back(start_worker(dir, {"--latency-ms", "6000"}, {}, 2,
                               slow_dir + "/datagen.yaml", "127.0.0.4"));
  nodes.push_back(start_worker(dir, {"--latency-ms", "300"}, {}, 2, "",
                               "127.0.0.5"));
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", join_addresses(nodes),
                    "--mode", "l2r", "--num-batches", "50"},
                   {}, std::chrono::seconds(60));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("no answer within") != std::string::npos);
  CHECK(r.err.find("late answer") != std::string::npos);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  CHECK(report["jobs"][0]["done"] == 50);
  CHECK(uids_of(dir + "/out/l2r/names.jsonl").size()
        == report["jobs"][0]["kept"].get<size_t>());
  // The slow server saw its attempts; none of them reached the output twice:
  // the journal holds each index once.
  size_t lines = 0;
  auto items = journal_items(dir + "/out/journal.jsonl", &lines);
  size_t distinct = 0;
  for (auto& [job, got] : items)
    distinct += got.size();
  CHECK(distinct == lines);
}

TEST_CASE("a listed port that never completes the handshake: the head uses "
          "the other workers and exits when done") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  mute_listener mute;
  auto good = start_worker(dir, {"--latency-ms", "10"}, {}, 4, "",
                           "127.0.0.6");
  auto workers = "127.0.0.1:" + std::to_string(mute.port) + ","
                 + good.address();
  auto started = std::chrono::steady_clock::now();
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", workers,
                    "--num-batches", "20"},
                   {}, std::chrono::seconds(60));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  CHECK(r.err.find("worker " + good.address() + " connected")
        != std::string::npos);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  for (auto& job : report["jobs"])
    CHECK(job["done"] == 20);
}

TEST_CASE("a listed address that drops connection attempts holds up neither "
          "the other workers nor the exit") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  dropping_port dropping;
  auto good = start_worker(dir, {"--latency-ms", "10"}, {}, 4, "",
                           "127.0.0.9");
  auto workers = "127.0.0.1:" + std::to_string(dropping.port) + ","
                 + good.address();
  auto started = std::chrono::steady_clock::now();
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", workers,
                    "--num-batches", "20"},
                   {}, std::chrono::seconds(60));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  auto report = json::parse(read_file(dir + "/out/report.json"));
  for (auto& job : report["jobs"])
    CHECK(job["done"] == 20);
}

TEST_CASE("SIGTERM on a worker mid-run: its attempts in flight finish, the "
          "rest go elsewhere, nothing lost or repeated") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  std::vector<worker_node> nodes;
  std::vector<std::string> logs{dir + "/sim0.jsonl", dir + "/sim1.jsonl"};
  nodes.push_back(start_worker(dir, {"--latency-ms", "300", "--log-requests",
                                     logs[0]},
                               {}, 4, "", "127.0.0.7"));
  nodes.push_back(start_worker(dir, {"--latency-ms", "40", "--log-requests",
                                     logs[1]},
                               {}, 4, "", "127.0.0.8"));
  write_file(dir + "/manifest.yaml", two_jobs);
  child_process head{head_run(dir, join_addresses(nodes))};
  REQUIRE(wait_journal(head, dir + "/out/journal.jsonl", 30));
  nodes[0].proc->signal(SIGTERM);
  auto wcode = nodes[0].proc->wait(std::chrono::seconds(20));
  auto werr = nodes[0].proc->drain_stderr();
  INFO(werr);
  CHECK(wcode.value_or(-1) == 0);
  CHECK(werr.find("finishing") != std::string::npos);
  CHECK(werr.find("still in flight") == std::string::npos);
  auto code = head.wait(std::chrono::seconds(60));
  auto err = head.drain_stderr();
  INFO(err);
  REQUIRE(code.value_or(-1) == 0);
  check_each_item_once(dir);
  // No model call was made twice: the attempts in flight at SIGTERM were
  // answered, not dropped and sent again.
  size_t posted = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].sim.proc->signal(SIGTERM);
    nodes[i].sim.proc->wait(std::chrono::seconds(5));
    posted += read_sim_log(logs[i]).size();
  }
  CHECK(posted == 240);
}
