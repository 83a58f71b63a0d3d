// Simulator: faults, rate limit, latency, max_concurrency, request log, the
// executable, and the child_process helper.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/sim/sim_test_util.hpp"

using simtest::json;
using simtest::sim;
using namespace std::chrono_literals;

static const json k_body = {{"prompt", "This is an algorithm function.\n\ndef "}, {"n", 2}};

namespace {

// What the client sees for one fault kind.
void check_fault_result(const std::string& kind, const httplib::Result& r) {
  CAPTURE(kind);
  if (kind == "429") {
    REQUIRE(r);
    CHECK(r->status == 429);
    CHECK(r->get_header_value("Retry-After") == "1");
    CHECK(simtest::is_error_shape(r->body));
  } else if (kind == "500" || kind == "503") {
    REQUIRE(r);
    CHECK(r->status == std::stoi(kind));
    CHECK(simtest::is_error_shape(r->body));
    CHECK(json::parse(r->body).at("error").at("param").is_null());
  } else if (kind == "malformed") {
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_THROWS(json::parse(r->body));
  } else if (kind == "truncated") {
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(std::to_string(r->body.size()) == r->get_header_value("Content-Length"));
    CHECK_THROWS(json::parse(r->body));
    CHECK(r->body.rfind("{\"choices\":", 0) == 0);  // a real answer, cut
  } else if (kind == "reset") {
    CHECK_FALSE(r);  // connection closed without a response
  } else if (kind == "hang") {
    CHECK_FALSE(r);  // the client gave up (read timeout)
  }
}

const std::vector<std::string> k_kinds = {"429", "500", "503", "hang", "reset", "malformed", "truncated"};

}  // namespace

TEST_CASE("sim: every fault kind forced with X-Sim-Fault, then a normal request works") {
  const auto dir = evo::test::make_temp_dir();
  evo::sim::sim_options o;
  o.log_requests = dir + "/requests.jsonl";
  sim s(o);
  for (const auto& kind : k_kinds) {
    auto c = s.client(kind == "hang" ? 300 : 10000);
    auto t0 = std::chrono::steady_clock::now();
    auto r = c->Post("/v1/completions", {{"X-Sim-Fault", kind}}, k_body.dump(), "application/json");
    check_fault_result(kind, r);
    if (kind == "hang") CHECK(simtest::ms_since(t0) >= 250);
    // chat endpoint too
    auto rc = s.client(kind == "hang" ? 300 : 10000)
                  ->Post("/v1/chat/completions", {{"X-Sim-Fault", kind}},
                         json{{"messages", {{{"role", "user"}, {"content", "x"}}}}}.dump(), "application/json");
    check_fault_result(kind, rc);
    CHECK(s.completions(k_body).at("choices").size() == 2);
  }
  // The hung requests were released when their clients hung up: the log has
  // their lines (written when the hang ends), with status 0.
  auto lines = simtest::read_log(o.log_requests);
  int hangs = 0, resets = 0;
  for (const auto& l : lines) {
    if (l.at("fault") == "hang" || l.at("fault") == "reset") {
      CHECK(l.at("status") == 0);
      (l.at("fault") == "hang" ? hangs : resets)++;
    }
  }
  CHECK(resets == 2);
  // A hang's line is written when the server notices the disconnect, which can
  // be a moment after the client gave up: wait for it (bounded).
  for (int i = 0; i < 100 && hangs < 2; ++i) {
    std::this_thread::sleep_for(20ms);
    hangs = 0;
    for (const auto& l : simtest::read_log(o.log_requests)) hangs += l.at("fault") == "hang";
  }
  CHECK(hangs == 2);
}

TEST_CASE("sim: fault_rate 1 with a single fault kind") {
  for (const auto& kind : k_kinds) {
    evo::sim::sim_options o;
    o.fault_rate = 1.0;
    o.faults = {kind};
    sim s(o);
    for (int i = 0; i < 3; ++i) {
      auto r = s.client(kind == "hang" ? 200 : 10000)
                   ->Post("/v1/completions", k_body.dump(), "application/json");
      check_fault_result(kind, r);
    }
    CHECK(s.healthy());  // /health is never faulted at random
  }
}

TEST_CASE("sim: fault_rate is a probability, deterministic by seed") {
  evo::sim::sim_options o;
  o.fault_rate = 0.3;
  o.faults = {"500", "503"};
  o.seed = 9;
  auto run = [&] {
    sim s(o);
    std::vector<int> st;
    for (int i = 0; i < 200; ++i) {
      auto r = s.post("/v1/completions", k_body);
      REQUIRE(r);
      st.push_back(r->status);
    }
    return st;
  };
  auto a = run(), b = run();
  CHECK(a == b);
  auto faults = std::count_if(a.begin(), a.end(), [](int x) { return x != 200; });
  CHECK(faults >= 30);
  CHECK(faults <= 90);
  CHECK(std::count(a.begin(), a.end(), 500) > 0);
  CHECK(std::count(a.begin(), a.end(), 503) > 0);
}

TEST_CASE("sim: stop() releases a hung request promptly") {
  auto s = std::make_unique<sim>();
  std::atomic<bool> answered{false};
  std::atomic<bool> got_response{true};
  std::thread t([&] {
    auto c = s->client(30000);
    auto res = c->Post("/v1/completions", {{"X-Sim-Fault", "hang"}}, k_body.dump(), "application/json");
    got_response = bool(res);
    answered = true;
  });
  // Not synchronisation: checks that the hang holds the request for a while
  // (if stop() came before the request arrived, the client fails too).
  std::this_thread::sleep_for(200ms);
  CHECK_FALSE(answered.load());
  auto t0 = std::chrono::steady_clock::now();
  s->server->stop();
  CHECK(simtest::ms_since(t0) < 2000);
  t.join();
  CHECK_FALSE(got_response.load());
  s->server->stop();  // idempotent
}

TEST_CASE("sim: stop() is prompt with idle keep-alive clients connected") {
  sim s;
  auto c = s.client();
  c->set_keep_alive(true);
  auto r = c->Get("/health");
  REQUIRE(r);
  auto t0 = std::chrono::steady_clock::now();
  s.server->stop();
  CHECK(simtest::ms_since(t0) < 1000);
}

TEST_CASE("sim: rate limit answers 429 with Retry-After") {
  evo::sim::sim_options o;
  o.rate_limit = 5;
  sim s(o);
  auto c = s.client();
  c->set_keep_alive(true);
  int ok = 0, limited = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto r = c->Post("/v1/completions", k_body.dump(), "application/json");
    REQUIRE(r);
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      REQUIRE(r->has_header("Retry-After"));
      CHECK(std::stoi(r->get_header_value("Retry-After")) >= 1);
      CHECK(simtest::is_error_shape(r->body));
    }
  }
  CHECK(ok >= 5);
  // A burst of 5, plus what refills at 5/s while the loop runs.
  CHECK(ok <= 5 + 1 + int(simtest::ms_since(t0) * 5 / 1000));
  CHECK(limited == 20 - ok);
  CHECK(s.healthy());  // /health is not rate limited
}

TEST_CASE("sim: latency, jitter and per-token latency") {
  evo::sim::sim_options o;
  o.latency_ms = 60;
  o.jitter_ms = 20;
  sim s(o);
  auto t0 = std::chrono::steady_clock::now();
  s.completions(k_body);
  auto ms = simtest::ms_since(t0);
  CHECK(ms >= 60);
  CHECK(ms < 2000);
  // Jitter: sixteen requests at latency 10 + uniform(0, 200) ms, each held
  // as long as the server's log shows; their spread is far above
  // scheduling noise (a range under 60 ms has odds ~1e-7).
  const auto dir = evo::test::make_temp_dir();
  evo::sim::sim_options jo;
  jo.latency_ms = 10;
  jo.jitter_ms = 200;
  jo.log_requests = dir + "/jitter.jsonl";
  {
    sim js(jo);
    for (int i = 0; i < 16; ++i) js.completions(k_body);
  }
  auto held = simtest::read_log(jo.log_requests);
  REQUIRE(held.size() == 16);
  double lo = 1e9, hi = 0;
  for (const auto& l : held) {
    double d = double(l.at("end_us").get<int64_t>() - l.at("start_us").get<int64_t>()) / 1000;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  CHECK(lo >= 10);
  CHECK(hi - lo >= 60);

  evo::sim::sim_options p;
  p.per_token_ms = 10;
  sim q(p);
  t0 = std::chrono::steady_clock::now();
  auto j = q.completions({{"prompt", "x"}, {"n", 4}});
  const auto toks = j.at("usage").at("completion_tokens").get<int64_t>();
  CHECK(simtest::ms_since(t0) >= 10.0 * double(toks));
}

TEST_CASE("sim: max_concurrency queues requests (measured, and visible in the log)") {
  const auto dir = evo::test::make_temp_dir();
  evo::sim::sim_options o;
  o.latency_ms = 100;
  o.max_concurrency = 1;
  o.log_requests = dir + "/conc.jsonl";
  sim s(o);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      auto r = s.post("/v1/completions", k_body);
      if (r && r->status == 200) ++ok;
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 4);
  CHECK(simtest::ms_since(t0) >= 400);
  auto lines = simtest::read_log(o.log_requests);
  REQUIRE(lines.size() == 4);
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const auto& l : lines) spans.emplace_back(l.at("start_us").get<int64_t>(), l.at("end_us").get<int64_t>());
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) CHECK(spans[i].first - spans[i - 1].first >= 99000);  // one at a time

  SUBCASE("without the limit they overlap") {
    evo::sim::sim_options u;
    u.latency_ms = 100;
    sim v(u);
    auto t1 = std::chrono::steady_clock::now();
    std::vector<std::thread> us;
    for (int i = 0; i < 4; ++i) us.emplace_back([&] { v.post("/v1/completions", k_body); });
    for (auto& t : us) t.join();
    CHECK(simtest::ms_since(t1) < 350);
  }
}

TEST_CASE("sim: 64 keep-alive clients are served concurrently") {
  evo::sim::sim_options o;
  o.latency_ms = 50;
  sim s(o);
  std::atomic<int> ok{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int i = 0; i < 64; ++i)
    ts.emplace_back([&] {
      auto c = s.client();
      c->set_keep_alive(true);
      for (int k = 0; k < 5; ++k) {
        auto r = c->Post("/v1/completions", k_body.dump(), "application/json");
        if (r && r->status == 200) ++ok;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 320);
  // Serially (or with a pool of 8) this would take >= 2 s.
  CHECK(simtest::ms_since(t0) < 1500);
}

TEST_CASE("sim: request log has one JSON line per request") {
  const auto dir = evo::test::make_temp_dir();
  evo::sim::sim_options o;
  o.log_requests = dir + "/log.jsonl";
  sim s(o);
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  s.completions({{"prompt", "x"}, {"n", 3}});
  s.chat({{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"n", 2}});
  s.post_raw("/v1/completions", "{bad");
  s.post("/v1/completions", k_body, {{"X-Sim-Fault", "503"}});
  s.client()->Get("/v1/models");
  s.client()->Get("/nowhere");
  // Read right after the run: every line is already flushed.
  auto lines = simtest::read_log(o.log_requests);
  REQUIRE(lines.size() == 6);
  for (const auto& l : lines) {
    CHECK(l.at("t_us").get<int64_t>() >= before);  // microseconds since the Unix epoch
    CHECK(l.at("start_us").get<int64_t>() >= l.at("t_us").get<int64_t>());
    CHECK(l.at("end_us").get<int64_t>() >= l.at("start_us").get<int64_t>());
    CHECK(l.at("endpoint").is_string());
    CHECK(l.at("status").is_number_integer());
    CHECK(l.at("fault").is_string());
    CHECK(l.at("n").is_number_integer());
  }
  CHECK(lines[0].at("endpoint") == "/v1/completions");
  CHECK(lines[0].at("status") == 200);
  CHECK(lines[0].at("n") == 3);
  CHECK(lines[0].at("fault") == "none");
  CHECK(lines[1].at("endpoint") == "/v1/chat/completions");
  CHECK(lines[1].at("n") == 2);
  CHECK(lines[2].at("status") == 400);
  CHECK(lines[3].at("status") == 503);
  CHECK(lines[3].at("fault") == "503");
  CHECK(lines[4].at("endpoint") == "/v1/models");
  CHECK(lines[5].at("status") == 404);
}

TEST_CASE("sim: start() throws when the port is taken; options() reports the options") {
  sim a;
  evo::sim::sim_options o;
  o.port = a.port;
  o.model = "m1";
  evo::sim::sim_server b(o);
  CHECK(b.options().model == "m1");
  CHECK_THROWS_AS(b.start(), std::runtime_error);
  b.stop();  // harmless when never started
  CHECK(a.server->port() == a.port);
  CHECK_THROWS(evo::sim::sim_server(evo::sim::sim_options{.faults = {"boom"}}));
}

TEST_CASE("sim: the evoselfcode-sim executable") {
  auto s = evo::test::start_sim({"--seed", "3", "--model", "exe-model"});
  REQUIRE(s.port > 0);
  CHECK(s.base_url() == "http://127.0.0.1:" + std::to_string(s.port) + "/v1");
  httplib::Client c("127.0.0.1", s.port);
  c.set_read_timeout(10, 0);
  auto r = c.Post("/v1/completions", k_body.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body).at("model") == "exe-model");
  auto m = c.Get("/v1/models");
  REQUIRE(m);
  CHECK(json::parse(m->body)["data"][0].at("id") == "exe-model");
  s.proc->signal(SIGTERM);
  auto code = s.proc->wait(10s);
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("sim: the executable rejects bad flags with exit code 2") {
  const std::string bin = std::string(EVO_BINARY_DIR) + "/evoselfcode-sim";
  for (std::vector<std::string> args : {std::vector<std::string>{"--no-such-flag"},
                                        {"--port", "notaport"},
                                        {"--fault-rate", "2"},
                                        {"--faults", "429,boom"},
                                        {"--latency-ms", "-1"}}) {
    args.insert(args.begin(), bin);
    CAPTURE(args[1]);
    evo::test::child_process p(args);
    auto code = p.wait(10s);
    REQUIRE(code);
    CHECK(*code == 2);
    CHECK_FALSE(p.drain_stderr().empty());
  }
}

TEST_CASE("child_process: lines, exit codes, signals, big stderr without deadlock") {
  using evo::test::child_process;
  {
    child_process p({"/bin/sh", "-c", "echo one; echo two; printf three; exit 3"});
    CHECK(p.read_line(5s) == std::optional<std::string>("one"));
    CHECK(p.read_line(5s) == std::optional<std::string>("two"));
    CHECK(p.read_line(5s) == std::optional<std::string>("three"));
    CHECK_FALSE(p.read_line(1s));
    CHECK(p.wait(5s) == std::optional<int>(3));
  }
  {
    // 2 MB to stderr then a line to stdout: needs stderr drained meanwhile.
    child_process p({"sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x >&2; echo done"});
    CHECK(p.read_line(10s) == std::optional<std::string>("done"));
    CHECK(p.wait(10s) == std::optional<int>(0));
    CHECK(p.drain_stderr().size() == 2000000);
  }
  {
    child_process p({"sh", "-c", "echo \"$EVO_X\"; pwd"}, {"EVO_X=hello"}, "/tmp");
    CHECK(p.read_line(5s) == std::optional<std::string>("hello"));
    CHECK(p.read_line(5s) == std::optional<std::string>("/tmp"));
    CHECK(p.wait(5s) == std::optional<int>(0));
  }
  {
    child_process p({"sleep", "30"});
    CHECK_FALSE(p.wait(100ms));
    p.signal(SIGTERM);
    CHECK(p.wait(5s) == std::optional<int>(128 + SIGTERM));
  }
  {
    child_process p({"sh", "-c", "echo out; echo err >&2"});
    CHECK(p.wait(5s) == std::optional<int>(0));
    CHECK(p.drain_stdout() == "out\n");
    CHECK(p.drain_stderr() == "err\n");
  }
  CHECK_THROWS_AS(child_process({"/nonexistent/program"}), std::runtime_error);
  { child_process p({"sleep", "30"}); }  // destructor kills and reaps
}
