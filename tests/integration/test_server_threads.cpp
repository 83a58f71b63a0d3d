// evoselfcode against a server with fewer HTTP threads than the requests in
// flight (the simulator's model of llama.cpp's HTTP layer): no request waits
// for a keep-alive timeout, with either HTTP client, and every send is paid.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

TEST_CASE("32 in flight against 8 HTTP threads: no keep-alive-timeout step") {
  for (std::string client : {"native", "libcurl"}) {
    SUBCASE(client.c_str()) {
      auto dir = make_temp_dir();
      auto log = dir + "/sim.jsonl";
      // Keep-alive 3 s: a request left on a queued connection would wait
      // that long for a server thread.
      auto sim = start_sim({"--http-threads", "8", "--keepalive-timeout-s", "3",
                            "--keepalive-max-requests", "100", "--log-requests", log});
      test_config c;
      c.base_url = sim.base_url();
      c.n = 1;
      c.pool = 32;
      c.num_batches = 400;
      c.api_extra = "  http_client: " + client + "\n";
      auto cfg = write_config(dir, c);
      auto t0 = std::chrono::steady_clock::now();
      auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode", "l2r",
                        "--num-batches", "400", "-n", "1", "--concurrency", "32", "--quiet",
                        "--out", dir + "/out"});
      auto wall_ms = std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - t0).count();
      INFO("client=" << client << " stderr: " << r.err);
      REQUIRE(r.exit_code == 0);
      sim.proc->signal(SIGTERM);
      REQUIRE(sim.proc->wait(std::chrono::seconds(10)).has_value());
      auto job = json::parse(read_file(dir + "/out/report.json"))["jobs"][0];
      CHECK(job["done"] == 400);
      CHECK(job["failed"] == 0);
      MESSAGE(client << ": wall " << wall_ms << " ms, p99 " << job["latency_ms"]["p99"]
                     << " ms, attempts " << job["attempts"]);
      // Without the move, 24 requests wait 3 s (three 3 s steps in all):
      // no run may reach the first step. (Runs take 0.1-0.5 s on a loaded
      // machine; the bound leaves room for sanitizer builds.)
      CHECK(wall_ms < 2900);
      CHECK(job["latency_ms"]["p99"].get<double>() < 1000);
      // Stuck requests were moved (more sends than items), and each send
      // counts as an attempt: the server never saw one the client did not
      // pay for.
      auto attempts = job["attempts"].get<size_t>();
      CHECK(attempts > 400);
      CHECK(read_sim_log(log).size() <= attempts);
      CHECK(read_lines(dir + "/out/l2r/names.jsonl").size() <= 400);
    }
  }
}
