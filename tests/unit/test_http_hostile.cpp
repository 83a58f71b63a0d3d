// Both clients against hostile servers: bodies over api.max_response_bytes
// (with Content-Length, chunked, until close), a server echoing the request
// headers (secrets) in an error body, and one resetting reused connections.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "actors/request/http_engine.hpp"
#include "actors/request/openai_protocol.hpp"
#include "actors/request/server_text.hpp"
#include "tests/unit/scripted_server.hpp"

using namespace evo;
using evo::test::reply;
using evo::test::scripted_server;
using namespace std::chrono_literals;

namespace {

const std::string completion = R"({"model":"m","choices":[{"index":0,"text":"merge_sorted"}]})";
const std::string request_body = R"({"model":"m","prompt":"def ","n":1})";
constexpr uint64_t cap = 64 * 1024;

struct via_native {
  static constexpr auto kind = http_client_kind::native;
};
struct via_libcurl {
  static constexpr auto kind = http_client_kind::libcurl;
};

template <class Client>
std::shared_ptr<http_call> make_call(std::vector<std::string> headers = {}) {
  http_options o;
  o.timeout = 10s;
  o.client = Client::kind;
  o.max_response_bytes = cap;
  o.headers = std::move(headers);
  return std::make_shared<http_call>(o);
}

// One POST; waits (bounded) for on_done.
const http_outcome& post(http_engine& engine, std::shared_ptr<http_call>& call,
                         const std::string& url, http_client_kind kind,
                         const std::string& body = request_body) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  call->on_done = [done] { done->set_value(); };
  call->prepare_post(url, body);
  REQUIRE(call->uses_native() == (kind == http_client_kind::native));
  engine.submit(call);
  REQUIRE(fut.wait_for(20s) == std::future_status::ready);
  return call->outcome();
}

std::string chunked(const std::string& body, size_t piece) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += piece) {
    auto part = body.substr(i, piece);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", part.size());
    out += std::string{size} + "\r\n" + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

} // namespace

TEST_CASE_TEMPLATE("hostile: a body over max_response_bytes fails the attempt "
                   "for good, however it is framed", client, via_native,
                   via_libcurl) {
  const std::string big(1u << 20, 'x'); // 16 times the cap
  const std::string framings[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size())
      + "\r\n\r\n" + big,
    chunked(big, 16 * 1024),
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big,
  };
  for (int f = 0; f < 3; ++f) {
    CAPTURE(f);
    scripted_server srv{[&](int) { return reply{framings[f], true}; }};
    http_engine engine{1};
    auto call = make_call<client>();
    auto& out = post(engine, call, srv.url(), client::kind);
    CHECK(out.error == transport_error::too_large);
    CHECK(out.body.size() <= cap);
    CHECK(out.sends == 1);
    auto r = classify_outcome(work_item{}, out);
    CHECK(r.failure == failure_kind::response_too_large);
    CHECK(r.detail.find("max_response_bytes") != std::string::npos);
  }
  // At the cap exactly: accepted.
  std::string fits = R"({"model":"m","choices":[{"index":0,"text":")";
  fits += std::string(cap - fits.size() - 4, 'a') + "\"}]}";
  REQUIRE(fits.size() == cap);
  scripted_server srv{[&](int) {
    return reply{chunked(fits, 1000)};
  }};
  http_engine engine{1};
  auto call = make_call<client>();
  auto& out = post(engine, call, srv.url(), client::kind);
  CHECK(out.error == transport_error::none);
  CHECK(out.body.size() == cap);
}

TEST_CASE_TEMPLATE("hostile: a server echoing the request headers in a 400 "
                   "body leaks no secret into the failure reason", client,
                   via_native, via_libcurl) {
  api_config api;
  api.api_key = "sk-SENTINEL-4242";
  api.extra_headers = {{"X-Gateway-Token", "gw-SENTINEL-77"}};
  auto secrets = secret_values(api);
  std::vector<std::string> headers{"Authorization: Bearer " + api.api_key,
                                   "X-Gateway-Token: gw-SENTINEL-77"};
  auto echo = [](const std::string& request, bool json) {
    // The headers first, so an excerpt shows them; ESC and BEL too.
    auto head = request.substr(0, request.find("\r\n\r\n"));
    head = std::string{"\x1b]0;pwned\x07 "} + (json ? "" : "\xff ")
           + head.substr(head.find("\r\n") + 2);
    std::string body;
    if (json) {
      std::string esc;
      for (char c : head)
        if (c == '"' || c == '\\')
          esc += std::string{"\\"} + c;
        else if (static_cast<unsigned char>(c) < 0x20) {
          char u[8];
          std::snprintf(u, sizeof u, "\\u%04x", c);
          esc += u;
        } else
          esc += c;
      body = "{\"error\":{\"message\":\"" + esc + "\"}}";
    } else {
      body = head;
    }
    return "HTTP/1.1 400 Bad Request\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  for (bool json : {false, true}) {
    CAPTURE(json);
    scripted_server srv{scripted_server::full_script{
      [&](int, const std::string& request, bool) {
        return reply{echo(request, json)};
      }}};
    http_engine engine{1};
    auto call = make_call<client>(headers);
    auto& out = post(engine, call, srv.url(), client::kind);
    REQUIRE(out.status == 400);
    REQUIRE(out.body.find("SENTINEL") != std::string::npos); // it did echo
    auto r = classify_outcome(work_item{}, out, secrets);
    CHECK(r.failure == failure_kind::http_status);
    CHECK(r.detail.find("SENTINEL") == std::string::npos);
    CHECK(r.detail.find("[redacted]") != std::string::npos);
    CHECK(r.detail.find('\x1b') == std::string::npos);
    CHECK(r.detail.find('\x07') == std::string::npos);
    CHECK(r.detail.find("\\x1b]0;pwned\\x07") != std::string::npos);
    CHECK(r.detail.find('\xff') == std::string::npos);
  }
}

TEST_CASE_TEMPLATE("hostile: resets of reused connections: the sends reported "
                   "equal the requests the server received", client,
                   via_native, via_libcurl) {
  // Every third request that arrives on a reused connection is read and
  // answered with a reset: the client re-sends it on a new connection.
  std::atomic<int> resets{0};
  scripted_server srv{scripted_server::full_script{
    [&](int i, const std::string&, bool reused) {
      if (reused && i % 3 == 0) {
        ++resets;
        return reply{"", false, true};
      }
      return reply{"HTTP/1.1 200 OK\r\nContent-Length: "
                   + std::to_string(completion.size()) + "\r\n\r\n"
                   + completion};
    }}};
  http_engine engine{1};
  auto call = make_call<client>();
  uint64_t sends = 0;
  int ok = 0;
  for (int k = 0; k < 30; ++k) {
    // Bodies of different sizes, as prompts are.
    std::string body = R"({"model":"m","prompt":")" + std::string(k * 7 % 50, 'p')
                       + R"(","n":1})";
    auto& out = post(engine, call, srv.url(), client::kind, body);
    sends += out.sends;
    ok += out.error == transport_error::none && out.status == 200 ? 1 : 0;
    // libcurl gives up re-sending after five re-sends on one easy handle
    // (CONN_MAX_RETRIES): then the attempt fails, to be retried.
    if (out.error != transport_error::none)
      CHECK(out.error == transport_error::recv);
  }
  MESSAGE("resets: " << resets.load() << ", sends: " << sends
                     << ", received: " << srv.requests());
  CHECK(resets.load() >= 5);
  CHECK(ok >= (client::kind == http_client_kind::native ? 30 : 24));
  CHECK(sends == static_cast<uint64_t>(srv.requests()));
}
