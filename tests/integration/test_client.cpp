// The client library (the Python guide's calls) in-process, against an
// in-process simulator over real HTTP.
#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <mutex>
#include <thread>

#include "app/client.hpp"
#include "app/config/config_loader.hpp"
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

// A server that answers every completion with one choice "stub" and keeps
// the request bodies, to see exactly what the client sent.
struct body_recorder {
  httplib::Server server;
  std::thread thread;
  std::mutex mu;
  std::vector<nlohmann::json> bodies;
  int port = 0;

  body_recorder() {
    auto answer = [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> guard{mu};
        bodies.push_back(nlohmann::json::parse(req.body));
      }
      res.set_content(R"({"model":"m","choices":[{"index":0,"text":"stub",)"
                      R"("finish_reason":"stop"}]})",
                      "application/json");
    };
    server.Post("/v1/completions", answer);
    server.Get("/ready", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
    // stop() before the accept loop has started would not stop it: wait for
    // a first answer, which only the running loop gives.
    httplib::Client probe{"127.0.0.1", port};
    auto res = probe.Get("/ready");
    if (!res || res->status != 200) {
      server.stop();
      thread.join();
      FAIL("the recording server did not answer");
    }
  }
  ~body_recorder() {
    server.stop();
    thread.join();
  }
  nlohmann::json last() {
    std::lock_guard<std::mutex> guard{mu};
    REQUIRE(!bodies.empty());
    return bodies.back();
  }
};

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

TEST_CASE("a hand-filled api_config gets the loader's /v1 normalisation") {
  sim::sim_options o;
  sim::sim_server server{o};
  auto port = server.start();
  auto api = api_for(port);
  api.base_url = "http://127.0.0.1:" + std::to_string(port) + "/";
  client c{api, "test-model"};
  CHECK(c.base_url() == "http://127.0.0.1:" + std::to_string(port) + "/v1");
  CHECK(c.api().base_url == c.base_url());
  // The simulator answers only under /v1: this reaches it.
  CHECK(c.complete("def ", seeded(2)).size() == 2);

  api.base_url = "ftp://127.0.0.1/";
  CHECK_THROWS_AS(client(api, "test-model"), config_error);
}

TEST_CASE("complete_fim is complete_fim_batch of one pair") {
  sim::sim_options o;
  o.seed = 3;
  sim::sim_server server{o};
  auto port = server.start();
  client c{api_for(port), "test-model"};
  auto one = c.complete_fim("def is_", "(s):\n", seeded(3));
  CHECK(one.size() == 3);
  CHECK(one == c.complete_fim_batch({{"def is_", "(s):\n"}}, seeded(3)).front());
  // FIM, not L2R: the same prefix alone answers differently.
  CHECK(one != c.complete("def is_", seeded(3)));
}

TEST_CASE("the async calls give what the blocking calls give") {
  sim::sim_options o;
  o.seed = 4;
  o.latency_ms = 20;
  sim::sim_server server{o};
  auto port = server.start();
  client c{api_for(port), "test-model"};
  std::vector<std::string> prompts{"def a", "def b", "def c"};
  std::vector<std::pair<std::string, std::string>> pairs{{"def ", "():\n"},
                                                         {"def x", "(y):\n"}};
  // All four in flight at once, then collected.
  auto single = c.complete_async("def sort_", seeded(2));
  auto batch = c.complete_batch_async(prompts, seeded(2));
  auto fim = c.complete_fim_async("def ", "():\n", seeded(2));
  auto fim_batch = c.complete_fim_batch_async(pairs, seeded(2));
  auto single_v = single.get();
  CHECK(single_v.size() == 2);
  CHECK(single_v == c.complete("def sort_", seeded(2)));
  auto batch_v = batch.get();
  CHECK(batch_v.size() == 3);
  CHECK(batch_v == c.complete_batch(prompts, seeded(2)));
  auto fim_v = fim.get();
  CHECK(fim_v.size() == 2);
  CHECK(fim_v == c.complete_fim("def ", "():\n", seeded(2)));
  auto fim_batch_v = fim_batch.get();
  CHECK(fim_batch_v.size() == 2);
  CHECK(fim_batch_v == c.complete_fim_batch(pairs, seeded(2)));
}

TEST_CASE("an async call's failure is rethrown by get()") {
  sim::sim_options o;
  sim::sim_server server{o};
  auto port = server.start();
  auto api = api_for(port);
  api.extra_headers.emplace_back("X-Sim-Fault", "400"); // refused: no retry
  client c{api, "test-model"};
  auto f = c.complete_batch_async({"def a", "def b"}, seeded(1));
  CHECK_THROWS_AS(f.get(), batch_error);
}

TEST_CASE("the client's destructor waits for a running async call") {
  sim::sim_options o;
  o.latency_ms = 300;
  sim::sim_server server{o};
  auto port = server.start();
  std::future<std::vector<std::string>> pending;
  {
    client c{api_for(port), "test-model"};
    pending = c.complete_async("def ", seeded(2));
  } // the call is still on the wire here
  REQUIRE(pending.wait_for(std::chrono::seconds(0))
          == std::future_status::ready);
  CHECK(pending.get().size() == 2);
}

TEST_CASE("extra_body's keys reach every request body") {
  body_recorder server;
  auto api = api_for(server.port);
  api.fim.mode = fim_mode::suffix;
  client c{api, "test-model"};
  auto params = seeded(1);
  params.extra_body = R"({"logprobs": 2, "repetition_penalty": 1.1})";
  CHECK(c.complete("def ", params) == std::vector<std::string>{"stub"});
  auto body = server.last();
  CHECK(body["logprobs"] == 2);
  CHECK(body["repetition_penalty"] == 1.1);
  CHECK(body["prompt"] == "def ");
  CHECK(body["n"] == 1);

  c.complete_fim("def ", "():\n", params);
  body = server.last();
  CHECK(body["logprobs"] == 2);
  CHECK(body["repetition_penalty"] == 1.1);
  CHECK(body["suffix"] == "():\n");

  params.extra_body.clear();
  c.complete("def ", params);
  CHECK(!server.last().contains("logprobs"));
}

TEST_CASE("extra_body must be a JSON object that sets no key of the request") {
  body_recorder server;
  client c{api_for(server.port), "test-model"};
  auto params = seeded(1);
  params.extra_body = "[1, 2]";
  CHECK_THROWS_WITH_AS(c.complete("def ", params),
                       doctest::Contains("extra_body: expected a JSON object"),
                       std::invalid_argument);
  params.extra_body = R"({"n": 8})";
  CHECK_THROWS_WITH_AS(c.complete_async("def ", params).get(),
                       doctest::Contains("key 'n' is already set"),
                       std::invalid_argument);
  std::lock_guard<std::mutex> guard{server.mu};
  CHECK(server.bodies.empty()); // nothing was sent
}
