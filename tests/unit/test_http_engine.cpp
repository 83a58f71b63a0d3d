// The curl-multi HTTP engine against the in-process simulator on port 0.
// Synchronisation by promise/future with bounded waits, never by sleeping.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/request/http_engine.hpp"
#include "actors/request/openai_protocol.hpp"
#include "tools/sim/sim_server.hpp"

using namespace evo;
using namespace std::chrono_literals;

namespace {

const std::string valid_body =
  R"({"model":"m","prompt":"def ","max_tokens":8,"n":2})";

struct sim_fixture {
  std::unique_ptr<sim::sim_server> server;
  int port = 0;
  explicit sim_fixture(sim::sim_options o = {}) {
    o.port = 0;
    server = std::make_unique<sim::sim_server>(std::move(o));
    port = server->start();
    REQUIRE(port > 0);
  }
  ~sim_fixture() { server->stop(); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/v1/completions";
  }
};

// Every engine test runs twice: on the engine's own HTTP/1.1 client and on
// libcurl (the simulator is on 127.0.0.1, where both can go).
http_client_kind g_client = http_client_kind::native;
struct via_native {
  static constexpr auto kind = http_client_kind::native;
};
struct via_libcurl {
  static constexpr auto kind = http_client_kind::libcurl;
};
template <class Client>
void use_client() {
  g_client = Client::kind;
}

// Submits `call` once and waits (bounded) for on_done. False on timeout.
bool run_once(http_engine& engine, const std::shared_ptr<http_call>& call,
              const std::string& url, const std::string& body,
              std::chrono::milliseconds bound = 10s) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  call->on_done = [done] { done->set_value(); };
  call->prepare_post(url, body);
  CHECK(call->uses_native() == (g_client == http_client_kind::native));
  engine.submit(call);
  return fut.wait_for(bound) == std::future_status::ready;
}

// A loopback port nothing listens on (bound then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

http_options opts_with(std::vector<std::string> headers = {},
                       std::chrono::milliseconds timeout = 10s) {
  http_options o;
  o.client = g_client;
  o.timeout = timeout;
  o.headers = std::move(headers);
  return o;
}

} // namespace

TEST_CASE_TEMPLATE("http engine POSTs a completion and the body parses into n choices",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with());
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  auto& out = call->outcome();
  CHECK(out.error == transport_error::none);
  CHECK(out.status == 200);
  CHECK(out.retry_after_ms == -1);
  CHECK(out.error_text.empty());
  parsed_completion parsed;
  auto err = parse_completion(out.body, parsed);
  CAPTURE(out.body);
  REQUIRE_FALSE(err.has_value());
  CHECK(parsed.choices.size() == 2);
  CHECK(engine.in_flight() == 0);
}

TEST_CASE_TEMPLATE("http engine reuses one http_call for 50 sequential requests",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with());
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(run_once(engine, call, sim.url(), valid_body));
    CAPTURE(i);
    REQUIRE(call->outcome().error == transport_error::none);
    REQUIRE(call->outcome().status == 200);
    parsed_completion parsed;
    REQUIRE_FALSE(parse_completion(call->outcome().body, parsed).has_value());
    REQUIRE(parsed.choices.size() == 2);
    ++ok;
  }
  CHECK(ok == 50);
}

TEST_CASE_TEMPLATE("http engine completes 32 transfers in flight at once",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim::sim_options o;
  o.latency_ms = 50; // keep them overlapping
  sim_fixture sim{o};
  http_engine engine;
  constexpr int N = 32;
  std::vector<std::shared_ptr<http_call>> calls;
  std::atomic<int> finished{0};
  auto all = std::make_shared<std::promise<void>>();
  auto fut = all->get_future();
  for (int i = 0; i < N; ++i) {
    auto c = std::make_shared<http_call>(opts_with());
    c->on_done = [&finished, all] {
      if (finished.fetch_add(1) + 1 == N)
        all->set_value();
    };
    c->prepare_post(sim.url(), valid_body);
    calls.push_back(c);
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& c : calls)
    engine.submit(c);
  REQUIRE(fut.wait_for(15s) == std::future_status::ready);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(finished.load() == N);
  int ok = 0;
  for (auto& c : calls)
    if (c->outcome().error == transport_error::none && c->outcome().status == 200)
      ++ok;
  CHECK(ok == N);
  CHECK(engine.in_flight() == 0);
  // Concurrent, not serial: 32 x 50 ms would be 1.6 s.
  CHECK(elapsed < 1500ms);
}

TEST_CASE_TEMPLATE("http engine: X-Sim-Fault 503 header gives status 503",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: 503"}));
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  CHECK(call->outcome().error == transport_error::none);
  CHECK(call->outcome().status == 503);
  work_item it;
  auto r = classify_outcome(it, call->outcome());
  CHECK(r.failure == failure_kind::http_status);
  CHECK(r.http_status == 503);
}

TEST_CASE_TEMPLATE("http engine: a 429 exposes retry_after_ms parsed from Retry-After",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: 429"}));
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  CHECK(call->outcome().status == 429);
  CHECK(call->outcome().retry_after_ms >= 0);
  CHECK(call->outcome().retry_after_ms == 1000); // the sim sends "Retry-After: 1"
  // The next request on the same call starts clean.
  call = std::make_shared<http_call>(opts_with());
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  CHECK(call->outcome().status == 200);
  CHECK(call->outcome().retry_after_ms == -1);
}

TEST_CASE_TEMPLATE("http engine: prepare_post clears the previous outcome",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: 429"}));
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  REQUIRE(call->outcome().retry_after_ms == 1000);
  call->prepare_post(sim.url(), valid_body);
  CHECK(call->outcome().status == 0);
  CHECK(call->outcome().retry_after_ms == -1);
  CHECK(call->outcome().body.empty());
}

TEST_CASE_TEMPLATE("http engine: timeout against a hung request gives curl code 28 quickly",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: hang"}, 300ms));
  auto start = std::chrono::steady_clock::now();
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(call->outcome().error == transport_error::timeout);
  CHECK_FALSE(call->outcome().error_text.empty());
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 5s);
  work_item it;
  CHECK(classify_outcome(it, call->outcome()).failure == failure_kind::timeout);
}

TEST_CASE_TEMPLATE("http engine: connection refused on a closed port gives curl code 7",
                   client, via_native, via_libcurl) {
  use_client<client>();
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with({}, 5s));
  auto url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/completions";
  REQUIRE(run_once(engine, call, url, valid_body));
  CHECK(call->outcome().error == transport_error::connect);
  CHECK(call->outcome().status == 0);
  work_item it;
  CHECK(classify_outcome(it, call->outcome()).failure == failure_kind::connect);
}

TEST_CASE_TEMPLATE("http engine: reset and malformed faults classify as transport and bad_body",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  {
    auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: reset"}));
    REQUIRE(run_once(engine, call, sim.url(), valid_body));
    CHECK(call->outcome().error != transport_error::none);
    work_item it;
    CHECK(classify_outcome(it, call->outcome()).failure == failure_kind::transport);
  }
  {
    auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: malformed"}));
    REQUIRE(run_once(engine, call, sim.url(), valid_body));
    CHECK(call->outcome().error == transport_error::none);
    CHECK(call->outcome().status == 200);
    work_item it;
    CHECK(classify_outcome(it, call->outcome()).failure == failure_kind::bad_body);
  }
}

TEST_CASE_TEMPLATE("http engine destroyed with a hung transfer in flight returns promptly",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  auto call = std::make_shared<http_call>(opts_with({"X-Sim-Fault: hang"}, 60s));
  std::atomic<bool> called{false};
  auto engine = std::make_unique<http_engine>();
  call->on_done = [&called] { called = true; };
  call->prepare_post(sim.url(), valid_body);
  engine->submit(call);
  CHECK(engine->in_flight() == 1);
  // Give the engine a chance to actually start the transfer: a second,
  // normal request through the same engine completes first.
  auto probe = std::make_shared<http_call>(opts_with());
  REQUIRE(run_once(*engine, probe, sim.url(), valid_body));
  REQUIRE(probe->outcome().status == 200);
  CHECK(engine->in_flight() == 1); // the hung one is still there

  auto destroyed = std::make_shared<std::promise<void>>();
  auto fut = destroyed->get_future();
  std::thread killer([&engine, destroyed] {
    engine.reset();
    destroyed->set_value();
  });
  auto status = fut.wait_for(5s);
  CHECK(status == std::future_status::ready);
  if (status == std::future_status::ready) {
    killer.join();
  } else {
    killer.detach(); // do not hang the whole suite; the failure is reported
    return;
  }
  CHECK_FALSE(called.load()); // dropped, not completed
  // The call is still usable on a fresh engine.
  http_engine fresh;
  auto again = std::make_shared<http_call>(opts_with());
  REQUIRE(run_once(fresh, again, sim.url(), valid_body));
  CHECK(again->outcome().status == 200);
  // The dropped call itself runs on the fresh engine: nothing of the old
  // engine (its connection) is left in it.
  REQUIRE(run_once(fresh, call,
                   "http://127.0.0.1:" + std::to_string(closed_port())
                     + "/v1/completions",
                   valid_body));
  CHECK(call->outcome().error == transport_error::connect);
  call.reset(); // the easy handle outlived its engine's multi handle safely
}

#include <httplib.h>

namespace {

// A tiny server answering every POST with a given status and Retry-After.
struct header_server {
  httplib::Server srv;
  std::thread th;
  int port = 0;
  std::string retry_after;
  explicit header_server(std::string ra) : retry_after(std::move(ra)) {
    srv.Post(".*", [this](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", retry_after);
      res.set_content(R"({"error":{"message":"slow down"}})", "application/json");
    });
    port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    th = std::thread([this] { srv.listen_after_bind(); });
    // bind_to_any_port already listens: connects queue until accept runs.
  }
  ~header_server() {
    srv.stop();
    if (th.joinable())
      th.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/v1/completions";
  }
};

int32_t retry_after_for(const std::string& header_value) {
  header_server hs{header_value};
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with());
  REQUIRE(run_once(engine, call, hs.url(), valid_body));
  REQUIRE(call->outcome().status == 429);
  return call->outcome().retry_after_ms;
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

} // namespace

TEST_CASE_TEMPLATE("http engine parses Retry-After seconds, fractions, dates and garbage",
                   client, via_native, via_libcurl) {
  use_client<client>();
  CHECK(retry_after_for("7") == 7000);
  CHECK(retry_after_for("0") == 0);
  CHECK(retry_after_for("1.5") == 1500);
  CHECK(retry_after_for("  3  ") == 3000);
  CHECK(retry_after_for("999999999") == 86400 * 1000); // capped at a day
  CHECK(retry_after_for("soon") == -1);
  CHECK(retry_after_for("-5") == -1);
  CHECK(retry_after_for("nan") == -1);
  CHECK(retry_after_for("inf") == 86400 * 1000);
  auto future = retry_after_for(http_date(std::time(nullptr) + 30));
  CHECK(future > 25000);
  CHECK(future <= 31000);
  CHECK(retry_after_for(http_date(std::time(nullptr) - 3600)) == 0);
}

TEST_CASE_TEMPLATE("http engine: on_done may resubmit the same call from the I/O thread",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim_fixture sim;
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with());
  std::atomic<int> done_count{0};
  std::atomic<int> ok_count{0};
  auto all = std::make_shared<std::promise<void>>();
  auto fut = all->get_future();
  const std::string url = sim.url();
  std::function<void()> again;
  again = [&] {
    if (call->outcome().error == transport_error::none && call->outcome().status == 200)
      ++ok_count;
    if (++done_count == 10) {
      all->set_value();
      return;
    }
    call->on_done = again;
    call->prepare_post(url, valid_body);
    engine.submit(call);
  };
  call->on_done = again;
  call->prepare_post(url, valid_body);
  engine.submit(call);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(done_count.load() == 10);
  CHECK(ok_count.load() == 10);
}

#include <mutex>
#include <set>

namespace {

// A tiny server answering every POST with one choice and recording the
// client port of each request: distinct ports = distinct TCP connections.
struct port_recording_server {
  httplib::Server srv;
  std::thread th;
  int port = 0;
  std::mutex mu;
  std::vector<int> remote_ports;
  port_recording_server() {
    srv.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> g{mu};
        remote_ports.push_back(req.remote_port);
      }
      res.set_content(R"({"choices":[{"index":0,"text":"a"}]})",
                      "application/json");
    });
    // cpp-httplib closes a connection after 5 requests by default: a loop's
    // two calls share its two connections, and when one call's transfer
    // ends before the other's starts both take the same connection, so 5
    // rounds would need a new connection then. The tests count connections
    // the client opens, not the server's limit.
    srv.set_keep_alive_max_count(1000);
    port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    th = std::thread([this] { srv.listen_after_bind(); });
  }
  ~port_recording_server() { stop(); }
  void stop() {
    srv.stop();
    if (th.joinable())
      th.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/v1/completions";
  }
  /// Requests seen and the connections they came on (after stop()).
  std::pair<size_t, size_t> requests_and_connections() {
    std::lock_guard<std::mutex> g{mu};
    std::set<int> distinct(remote_ports.begin(), remote_ports.end());
    return {remote_ports.size(), distinct.size()};
  }
};

} // namespace

TEST_CASE_TEMPLATE("http engine keeps the connection alive across requests of one call",
                   client, via_native, via_libcurl) {
  use_client<client>();
  port_recording_server srv;
  {
    http_engine engine;
    auto call = std::make_shared<http_call>(opts_with());
    for (int i = 0; i < 5; ++i) {
      REQUIRE(run_once(engine, call, srv.url(), valid_body));
      REQUIRE(call->outcome().status == 200);
    }
  }
  srv.stop();
  auto [requests, connections] = srv.requests_and_connections();
  REQUIRE(requests == 5);
  CHECK(connections == 1); // one TCP connection for all five
}

TEST_CASE_TEMPLATE("http engine reports latency in microseconds",
                   client, via_native, via_libcurl) {
  use_client<client>();
  sim::sim_options o;
  o.latency_ms = 100;
  sim_fixture sim{o};
  http_engine engine;
  auto call = std::make_shared<http_call>(opts_with());
  auto start = std::chrono::steady_clock::now();
  REQUIRE(run_once(engine, call, sim.url(), valid_body));
  auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - start).count();
  REQUIRE(call->outcome().status == 200);
  CHECK(call->outcome().latency_us >= 90000);
  CHECK(call->outcome().latency_us <= wall_us + 1000);
}

TEST_CASE_TEMPLATE("http engine with two I/O threads: calls spread over both and keep "
          "their connection", client, via_native, via_libcurl) {
  use_client<client>();
  port_recording_server srv;
  constexpr int calls_n = 4;
  constexpr int rounds = 5;
  std::set<std::thread::id> io_threads;
  int ok = 0;
  {
    http_engine engine{2};
    CHECK(engine.io_threads() == 2);
    std::vector<std::shared_ptr<http_call>> calls;
    for (int i = 0; i < calls_n; ++i)
      calls.push_back(std::make_shared<http_call>(opts_with()));
    for (int r = 0; r < rounds; ++r) {
      std::vector<std::future<std::thread::id>> done;
      for (auto& c : calls) {
        auto p = std::make_shared<std::promise<std::thread::id>>();
        done.push_back(p->get_future());
        c->on_done = [p] { p->set_value(std::this_thread::get_id()); };
        c->prepare_post(srv.url(), valid_body);
        engine.submit(c);
      }
      for (auto& f : done) {
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        io_threads.insert(f.get());
      }
      for (auto& c : calls)
        ok += c->outcome().status == 200 ? 1 : 0;
    }
  }
  srv.stop();
  CHECK(ok == calls_n * rounds);
  CHECK(io_threads.size() == 2); // both loops carried transfers
  auto [requests, connections] = srv.requests_and_connections();
  REQUIRE(requests == calls_n * rounds);
  // A call that moved to the other loop would find no connection in that
  // multi's cache and open a new one.
  CHECK(connections == calls_n);
}

TEST_CASE_TEMPLATE("http engine asked for zero I/O threads runs one",
                   client, via_native, via_libcurl) {
  use_client<client>();
  http_engine engine{0};
  CHECK(engine.io_threads() == 1);
}
