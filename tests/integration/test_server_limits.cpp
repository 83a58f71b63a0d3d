// Real servers' limits through the real binary against the simulator: a
// server refusing or capping n gets each request as parts; errors that will
// not heal end the run at once with what to fix.
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <set>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

const char* const clients[] = {"native", "libcurl"};

json job_of(const json& report, const std::string& mode) {
  for (auto& job : report["jobs"])
    if (job["mode"] == mode)
      return job;
  FAIL("no job " << mode << " in report.json");
  return {};
}

/// Runs n: 8 x 5 requests per mode against a simulator started with
/// `sim_args`; checks 8 choices per planned request, no failure, and the
/// report's note; returns the simulator log.
std::vector<json> run_n8(const std::vector<std::string>& sim_args,
                         const std::string& client, const std::string& note) {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto args = sim_args;
  args.insert(args.end(), {"--log-requests", log, "--seed", "11"});
  auto sim = start_sim(args);
  test_config c;
  c.base_url = sim.base_url();
  c.n = 8;
  c.num_batches = 5;
  c.api_extra = "  http_client: " + client + "\n";
  write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", dir + "/datagen.yaml"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  CHECK(report["server_max_n"] == 4);
  REQUIRE(report["notes"].size() == 1);
  CHECK(report["notes"][0] == note);
  CHECK(r.err.find("summary: " + note) != std::string::npos);
  for (const char* mode : {"fim", "l2r"}) {
    CAPTURE(mode);
    auto job = job_of(report, mode);
    CHECK(job["requests"] == 5);
    CHECK(job["done"] == 5);
    CHECK(job["failed"] == 0);
    CHECK(job["choices"] == 40); // 8 per planned request
    CHECK(read_lines(dir + "/out/" + mode + "/failures.jsonl").empty());
    // The parts' choices are one request's: indices 0..7 under 5 requests.
    std::set<uint64_t> requests;
    uint64_t top_choice = 0;
    for (auto& rec : read_jsonl(dir + "/out/" + std::string(mode) + "/names.jsonl")) {
      requests.insert(rec["request_index"].get<uint64_t>());
      top_choice = std::max(top_choice, rec["choice_index"].get<uint64_t>());
    }
    CHECK(requests.size() <= 5);
    CHECK(top_choice >= 4);
    CHECK(top_choice <= 7);
  }
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  return read_sim_log(log);
}

} // namespace

TEST_CASE("n: 8 against a server refusing n > 4: each request sent as 2") {
  for (const char* client : clients) {
    CAPTURE(client);
    auto lines = run_n8({"--max-n", "4"}, client,
                        "server caps n at 4 (it refused a larger n): each "
                        "request of n 8 sent as 2 requests");
    size_t refused = 0, answered = 0;
    for (auto& l : lines) {
      if (l["status"] == 400) {
        ++refused;
        CHECK(l["n"] == 8);
      } else {
        CHECK(l["status"] == 200);
        CHECK(l["n"] == 4);
        ++answered;
      }
    }
    CHECK(answered == 20); // 10 planned requests x 2 parts
    CHECK(refused >= 1);   // those sent before the cap was learned
    CHECK(refused <= 4);   // at most the 4 in flight when it was learned
  }
}

TEST_CASE("n: 8 against a server quietly capping n at 4: the rest is asked for") {
  for (const char* client : clients) {
    CAPTURE(client);
    auto lines = run_n8({"--cap-n", "4"}, client,
                        "server caps n at 4 (it answered with fewer choices "
                        "than asked): each request of n 8 sent as 2 requests");
    for (auto& l : lines)
      CHECK(l["status"] == 200);
    CHECK(lines.size() == 20); // every send gave 4 choices that were kept
  }
}

namespace {

struct fatal_run {
  cli_result r;
  json report;
  std::vector<json> sim_log;
};

/// One run (pool 4, 5 requests per mode) against `base_url`; the simulator
/// (when `sim`) logs to dir/sim.jsonl.
fatal_run run_against(const std::string& dir, const std::string& base_url,
                      const std::string& api_extra) {
  test_config c;
  c.base_url = base_url;
  c.api_extra = api_extra;
  write_config(dir, c);
  fatal_run f;
  f.r = run_cli({"datagen", "generate-names", "--config", dir + "/datagen.yaml"});
  if (file_exists(dir + "/out/report.json"))
    f.report = json::parse(read_file(dir + "/out/report.json"));
  if (file_exists(dir + "/sim.jsonl"))
    f.sim_log = read_sim_log(dir + "/sim.jsonl");
  return f;
}

/// Nothing was retried: the run stopped at the first answer, with at most
/// the pool's 4 requests sent.
void check_no_retry(const json& report) {
  REQUIRE(report.is_object());
  CHECK(report["total"]["retries"] == 0);
  CHECK(report["total"]["attempts"].get<int>() >= 1);
  CHECK(report["total"]["attempts"].get<int>() <= 4);
}

} // namespace

TEST_CASE("a refused API key ends the run at once, says what to fix, never "
          "shows the key") {
  const std::string wrong = "sk-wrong-key-5678";
  for (const char* client : clients) {
    CAPTURE(client);
    auto dir = make_temp_dir();
    auto sim = start_sim({"--require-key", "sk-right-key-1234", "--log-requests",
                          dir + "/sim.jsonl"});
    auto extra = "  http_client: " + std::string(client) + "\n";
    auto f = run_against(dir, sim.base_url(),
                         extra + "  api_key: \"" + wrong + "\"\n");
    INFO(f.r.err);
    CHECK(f.r.exit_code == 1);
    CHECK(f.r.err.find("HTTP 401: Incorrect API key provided.; fix: the server "
                       "refused the API key: check api.api_key / api.api_key_env")
          != std::string::npos);
    CHECK(f.r.err.find(wrong) == std::string::npos);
    CHECK(f.report["aborted"].get<std::string>().find("check api.api_key")
          != std::string::npos);
    check_no_retry(f.report);
    // Not retried: at most the pool's first 4 requests reached the server.
    CHECK(!f.sim_log.empty());
    CHECK(f.sim_log.size() <= 4);
    // The same server with the right key serves the run.
    auto ok = run_against(make_temp_dir(), sim.base_url(),
                          extra + "  api_key: \"sk-right-key-1234\"\n");
    INFO(ok.r.err);
    CHECK(ok.r.exit_code == 0);
  }
}

TEST_CASE("a model the server does not serve ends the run at once") {
  for (const char* client : clients) {
    CAPTURE(client);
    auto dir = make_temp_dir();
    auto sim = start_sim({"--strict-model", "--model", "served-model",
                          "--log-requests", dir + "/sim.jsonl"});
    auto f = run_against(dir, sim.base_url(),
                         "  http_client: " + std::string(client) + "\n");
    INFO(f.r.err);
    CHECK(f.r.exit_code == 1);
    CHECK(f.r.err.find("HTTP 404: The model `test-model` does not exist.; fix: the "
                       "server does not serve this model: set models.default")
          != std::string::npos);
    CHECK(!f.sim_log.empty());
    CHECK(f.sim_log.size() <= 4);
  }
}

TEST_CASE("a base_url with a wrong path ends the run at once") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--log-requests", dir + "/sim.jsonl"});
  auto url = sim.base_url(); // .../v1
  auto f = run_against(dir, url + "/openai/v1", "");
  INFO(f.r.err);
  CHECK(f.r.exit_code == 1);
  CHECK(f.r.err.find("fix: the server has no such endpoint: check api.base_url")
        != std::string::npos);
}

TEST_CASE("an untrusted certificate ends the run at once") {
  auto dir = make_temp_dir();
  child_process ca{{std::string(EVO_SOURCE_DIR) + "/tools/make-test-ca.sh", dir + "/pki"}};
  REQUIRE(ca.wait(std::chrono::seconds(60)) == 0);
  // A TLS server on loopback with a certificate of a CA the run does not know.
  child_process server{
    {"python3", "-c",
     "import ssl, socket, sys\n"
     "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
     "c.load_cert_chain(sys.argv[1], sys.argv[2])\n"
     "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(16)\n"
     "print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)\n"
     "while True:\n"
     "    conn, _ = s.accept()\n"
     "    try: c.wrap_socket(conn, server_side=True).close()\n"
     "    except Exception: conn.close()\n",
     dir + "/pki/rogue.pem", dir + "/pki/rogue.key"}};
  auto line = server.read_line(std::chrono::seconds(20));
  REQUIRE(line);
  REQUIRE(line->rfind("listening on 127.0.0.1:", 0) == 0);
  auto port = line->substr(std::string("listening on 127.0.0.1:").size());
  auto f = run_against(dir, "https://127.0.0.1:" + port + "/v1", "");
  INFO(f.r.err);
  CHECK(f.r.exit_code == 1);
  CHECK(f.r.err.find("fix: the server's TLS certificate is not trusted: give the "
                     "CA that signed it in api.ca_file")
        != std::string::npos);
  check_no_retry(f.report);
  server.signal(SIGTERM);
  server.wait(std::chrono::seconds(5));
}

TEST_CASE("api.fim.mode: auto picks suffix where it is taken, special_tokens "
          "where it is refused") {
  struct probe_case {
    std::vector<std::string> sim_args;
    std::string logged;
  };
  const probe_case cases[] = {
    {{}, "api.fim.mode auto: suffix (the server took a completion with a "
         "suffix field (HTTP 200))"},
    {{"--no-suffix"}, "api.fim.mode auto: special_tokens (the server refused a "
                      "completion with a suffix field (HTTP 400: suffix is not "
                      "currently supported))"},
  };
  for (const auto& pc : cases) {
    CAPTURE(pc.logged);
    auto dir = make_temp_dir();
    auto sim = start_sim(pc.sim_args);
    test_config c;
    c.base_url = sim.base_url();
    c.api_extra = "  fim:\n    mode: auto\n";
    write_config(dir, c);
    auto r = run_cli({"datagen", "generate-names", "--config",
                      dir + "/datagen.yaml", "--mode", "fim"});
    INFO(r.err);
    // With the wrong pick, --no-suffix would refuse every request (exit 3).
    CHECK(r.exit_code == 0);
    CHECK(r.err.find(pc.logged) != std::string::npos);
    CHECK(job_of(json::parse(read_file(dir + "/out/report.json")), "fim")["done"] == 5);
  }
}
