// Who may use a worker: the cluster token, the worker's own limits, the
// refusal to serve the network without TLS, memory before authentication,
// and one head at a time.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "tests/distributed/cluster_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

const std::string token = "s3cret-token-4711";

// A worker config in its own folder: the head's settings plus `cluster`
// lines, serving `model`.
std::string worker_config(const std::string& cluster_lines,
                          const std::string& model = "test-model") {
  auto wdir = make_temp_dir();
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1";
  c.n = 4;
  c.top_extra = "cluster:\n" + cluster_lines;
  write_config(wdir, c);
  auto m = read_file(wdir + "/model.yaml");
  m.replace(m.find("test-model"), 10, model);
  write_file(wdir + "/model.yaml", m);
  return wdir + "/datagen.yaml";
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1))
    ++n;
  return n;
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

} // namespace

TEST_CASE("a head without the token is refused, nothing is posted, and the "
          "refusal names neither the model nor the token") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  auto cfg = worker_config("  token: \"" + token + "\"\n", "hidden-model-x");
  auto sim_log = dir + "/sim.jsonl";
  auto w = start_worker(dir, {"--log-requests", sim_log}, {}, 4, cfg,
                        "127.0.0.10");
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", w.address(),
                    "--num-batches", "3", "--name", "tokenless"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("refused the cluster token") != std::string::npos);
  CHECK(r.err.find("hidden-model-x") == std::string::npos);
  // The run's final error says why the worker was not used.
  CHECK(r.err.find("no worker reachable") != std::string::npos);
  CHECK(r.err.find("worker " + w.address() + ": refused this head")
        != std::string::npos);

  // With the token (from cluster.token_env) the head is let in, and only
  // then learns that the worker serves another model.
  write_head_config(dir, "  token_env: EVO_TEST_CLUSTER_TOKEN\n");
  auto r2 = run_cli({"datagen", "generate-names", "--config",
                     dir + "/datagen.yaml", "--workers", w.address(),
                     "--num-batches", "3"},
                    {"EVO_TEST_CLUSTER_TOKEN=" + token});
  CHECK(r2.exit_code == 1);
  CHECK(r2.err.find("serves 'hidden-model-x'") != std::string::npos);
  CHECK(r2.err.find(token) == std::string::npos);

  w.proc->signal(SIGTERM);
  w.proc->wait(std::chrono::seconds(10));
  auto werr = w.proc->drain_stderr();
  INFO(werr);
  // Refused about ten times (every 0.5 s for 5 s): logged once per head and
  // reason.
  CHECK(count_of(werr, "refusing head tokenless") == 1);
  CHECK(werr.find(token) == std::string::npos);
  w.sim.proc->signal(SIGTERM);
  w.sim.proc->wait(std::chrono::seconds(5));
  CHECK(read_sim_log(sim_log).empty());
}

TEST_CASE("with the token a head runs; an item over the worker's limits is "
          "refused with a reason, not posted") {
  auto dir = make_temp_dir();
  write_head_config(dir, "  token: \"" + token + "\"\n");
  auto cfg = worker_config("  token: \"" + token + "\"\n");
  auto sim_log = dir + "/sim.jsonl";
  auto w = start_worker(dir, {"--log-requests", sim_log}, {"--max-n", "2"}, 4,
                        cfg, "127.0.0.11");
  // The head asks for n = 4: over the worker's --max-n 2.
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--workers", w.address(),
                    "--mode", "l2r", "--num-batches", "3"});
  INFO(r.err);
  auto failures = read_lines(dir + "/out/l2r/failures.jsonl");
  REQUIRE(failures.size() == 3);
  CHECK(failures[0].find("refused by worker") != std::string::npos);
  CHECK(failures[0].find("over the worker's limit 2") != std::string::npos);
  // Within its limits the same worker serves the head.
  auto ok = run_cli({"datagen", "generate-names", "--config",
                     dir + "/datagen.yaml", "--workers", w.address(),
                     "--mode", "l2r", "--num-batches", "3", "-n", "2",
                     "--out", dir + "/ok"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  w.sim.proc->signal(SIGTERM);
  w.sim.proc->wait(std::chrono::seconds(5));
  CHECK(read_sim_log(sim_log).size() == 3); // only the second run's items
}

TEST_CASE("a worker on a network address without TLS refuses to start") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  auto r = run_cli({"worker", "--listen", "0.0.0.0:0", "--config",
                    dir + "/datagen.yaml", "--base-url",
                    "http://127.0.0.1:9/v1"},
                   {}, std::chrono::seconds(20));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("not a loopback address") != std::string::npos);
  CHECK(r.err.find("--insecure") != std::string::npos);
}

TEST_CASE("a fake message header claiming 256 MiB does not make a TLS worker "
          "allocate it") {
  auto dir = make_temp_dir();
  child_process sh{{"bash", std::string{EVO_SOURCE_DIR} + "/tools/make-test-ca.sh",
                    dir + "/pki"}};
  REQUIRE(sh.wait(std::chrono::seconds(60)).value_or(-1) == 0);
  auto pki = dir + "/pki/";
  write_head_config(dir);
  auto w = start_worker(dir, {},
                        {"--tls-cert", pki + "worker.pem", "--tls-key",
                         pki + "worker.key", "--tls-ca", pki + "ca.pem"},
                        4, "", "127.0.0.12");
  auto before = rss_kib(w.proc->pid());
  REQUIRE(before > 0);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(w.port));
  ::inet_pton(AF_INET, w.host.c_str(), &a.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  // A CAF BASP header (32 bytes, network byte order): client handshake,
  // payload length 256 MiB, no payload.
  unsigned char hdr[32] = {0};
  hdr[0] = 0x01;
  uint32_t len = htonl(256u << 20);
  std::memcpy(hdr + 4, &len, 4);
  REQUIRE(::send(fd, hdr, sizeof(hdr), 0) == 32);
  // The worker closes the connection (an event, not a sleep).
  pollfd p{fd, POLLIN, 0};
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    if (::poll(&p, 1, 100) > 0) {
      char buf[256];
      closed = ::recv(fd, buf, sizeof(buf), 0) <= 0;
    }
  }
  ::close(fd);
  auto after = rss_kib(w.proc->pid());
  CHECK(closed);
  CHECK(after - before < 16 * 1024);
  CHECK(w.proc->running());
}

TEST_CASE("two heads at once on one worker: the second is refused as busy, "
          "retries, and both finish") {
  auto dir = make_temp_dir();
  write_head_config(dir);
  auto cfg = read_file(dir + "/datagen.yaml");
  cfg.replace(cfg.find("grace_s: 5"), 10, "grace_s: 30");
  write_file(dir + "/datagen.yaml", cfg);
  auto w = start_worker(dir, {"--latency-ms", "100"}, {}, 4, "",
                        "127.0.0.13");
  auto argv = [&](const std::string& name) {
    return std::vector<std::string>{
      std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
      "generate-names", "--config", dir + "/datagen.yaml", "--workers",
      w.address(), "--mode", "l2r", "--num-batches", "60", "--name", name,
      "--out", dir + "/" + name};
  };
  child_process first{argv("head-one")};
  std::string err1;
  REQUIRE(wait_for_stderr(first, err1, "connected", std::chrono::seconds(20)));
  child_process second{argv("head-two")};
  auto c1 = first.wait(std::chrono::seconds(60));
  auto c2 = second.wait(std::chrono::seconds(60));
  err1 += first.drain_stderr();
  auto err2 = second.drain_stderr();
  INFO(err1);
  INFO(err2);
  CHECK(c1.value_or(-1) == 0);
  CHECK(c2.value_or(-1) == 0);
  CHECK(err2.find("busy, serving head head-one") != std::string::npos);
  for (auto name : {"head-one", "head-two"}) {
    auto report = json::parse(read_file(dir + "/" + name + "/report.json"));
    CHECK(report["jobs"][0]["done"] == 60);
  }
  w.proc->signal(SIGTERM);
  w.proc->wait(std::chrono::seconds(10));
  auto werr = w.proc->drain_stderr();
  CHECK(werr.find("head head-one joined") != std::string::npos);
  CHECK(werr.find("head head-two joined") != std::string::npos);
}
