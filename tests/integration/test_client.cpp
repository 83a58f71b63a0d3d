// The client library (the Python guide's calls) in-process, against an
// in-process simulator over real HTTP.
#include <doctest/doctest.h>

#include "app/client.hpp"
#include "tools/sim/sim_server.hpp"

using namespace evo;

namespace {

api_config api_for(int port, int pool = 4) {
  api_config api;
  api.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  api.max_concurrent_requests = pool;
  api.semaphore_size = pool;
  api.max_retries = 2;
  api.backoff_base_s = 0.01;
  api.timeout_s = 5;
  return api;
}

sampling_params seeded(int n) {
  sampling_params p;
  p.n = n;
  p.temperature = 1.0;
  p.seed = 42; // same body, same answer: the simulator is deterministic
  return p;
}

} // namespace

TEST_CASE("complete_batch answers one list per prompt, in prompt order") {
  sim::sim_options o;
  o.seed = 1;
  o.latency_ms = 5;
  o.jitter_ms = 20; // answers come back out of order
  sim::sim_server server{o};
  auto port = server.start();
  client c{api_for(port), "test-model"};
  std::vector<std::string> prompts;
  for (int i = 0; i < 12; ++i)
    prompts.push_back("This is function number " + std::to_string(i)
                      + ".\n\ndef ");
  auto batch = c.complete_batch(prompts, seeded(3));
  REQUIRE(batch.size() == prompts.size());
  size_t differing = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    CAPTURE(i);
    CHECK(batch[i].size() == 3);
    // The same prompt alone gives the same choices: batch[i] belongs to
    // prompts[i].
    CHECK(c.complete(prompts[i], seeded(3)) == batch[i]);
    if (i > 0 && batch[i] != batch[i - 1])
      ++differing;
  }
  CHECK(differing > 0); // the check above could tell prompts apart
}

TEST_CASE("complete_fim_batch sends FIM as configured and keeps order") {
  sim::sim_options o;
  o.seed = 2;
  sim::sim_server server{o};
  auto port = server.start();
  auto api = api_for(port);
  api.fim.mode = fim_mode::suffix;
  client c{api, "test-model"};
  std::vector<std::pair<std::string, std::string>> pairs{
    {"def ", "():\n"}, {"# sort\ndef ", "(xs):\n"}, {"def is_", "(s):\n"}};
  auto out = c.complete_fim_batch(pairs, seeded(2));
  REQUIRE(out.size() == 3);
  for (auto& choices : out)
    CHECK(choices.size() == 2);
  CHECK(c.complete_fim_batch({pairs[1]}, seeded(2)).front() == out[1]);
}

TEST_CASE("a prompt that fails for good raises batch_error with the others' "
          "results") {
  sim::sim_options o;
  sim::sim_server server{o};
  auto port = server.start();
  auto api = api_for(port);
  api.extra_headers.emplace_back("X-Sim-Fault", "400"); // refused: no retry
  client c{api, "test-model"};
  try {
    c.complete_batch({"def a", "def b"}, seeded(1));
    FAIL("expected batch_error");
  } catch (const batch_error& e) {
    CHECK(e.failures.size() == 2);
    CHECK(e.partial.size() == 2);
    CHECK(std::string{e.what()}.find("400") != std::string::npos);
  }
}

TEST_CASE("the client honours the rate limit across a batch") {
  sim::sim_options o;
  sim::sim_server server{o};
  auto port = server.start();
  auto api = api_for(port, 8);
  api.rate_limit_per_second = 20;
  client c{api, "test-model"};
  std::vector<std::string> prompts(21, "def ");
  auto t0 = std::chrono::steady_clock::now();
  auto out = c.complete_batch(prompts, seeded(1));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - t0)
                .count();
  CHECK(out.size() == 21);
  CHECK(secs >= 0.95); // 20 intervals of 50 ms after the first token
  CHECK(secs < 3.0);
}
