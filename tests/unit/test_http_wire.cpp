// The engine against a raw TCP server that writes exactly the bytes a test
// scripts: chunked and until-close bodies, 100 Continue, Connection: close,
// a pooled connection that dies under the next request, empty, truncated and
// garbage replies. Both clients (own HTTP/1.1 client, libcurl) must read
// them alike. Synchronisation by futures with bounded waits.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "actors/request/http_engine.hpp"
#include "actors/request/openai_protocol.hpp"
#include "tests/unit/scripted_server.hpp"

using namespace evo;
using evo::test::reply;
using evo::test::scripted_server;
using namespace std::chrono_literals;

namespace {

const std::string completion = R"({"model":"m","choices":[{"index":0,"text":"merge_sorted"}]})";
const std::string request_body = R"({"model":"m","prompt":"def ","n":1})";

std::string ok_with_length(const std::string& body, const char* extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         + std::string{extra} + "Content-Length: " + std::to_string(body.size())
         + "\r\n\r\n" + body;
}

struct via_native {
  static constexpr auto kind = http_client_kind::native;
};
struct via_libcurl {
  static constexpr auto kind = http_client_kind::libcurl;
};

// One POST through `engine`; waits (bounded) for on_done.
template <class Client>
const http_outcome& post(http_engine& engine, std::shared_ptr<http_call>& call,
                         const std::string& url) {
  if (!call) {
    http_options o;
    o.timeout = 5s;
    o.client = Client::kind;
    call = std::make_shared<http_call>(o);
  }
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  call->on_done = [done] { done->set_value(); };
  call->prepare_post(url, request_body);
  REQUIRE(call->uses_native() == (Client::kind == http_client_kind::native));
  engine.submit(call);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  return call->outcome();
}

failure_kind classify(const http_outcome& out) {
  work_item item;
  return classify_outcome(item, out).failure;
}

} // namespace

TEST_CASE_TEMPLATE("wire: a chunked body is reassembled and the connection "
                   "kept", client, via_native, via_libcurl) {
  scripted_server srv{[](int) {
    std::string part1 = completion.substr(0, 10);
    std::string part2 = completion.substr(10);
    char size1[16], size2[16];
    std::snprintf(size1, sizeof size1, "%zx", part1.size());
    std::snprintf(size2, sizeof size2, "%zX", part2.size());
    return reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + std::string{size1} + ";ext=1\r\n" + part1 + "\r\n"
                 + std::string{size2} + "\r\n" + part2 + "\r\n"
                 + "0\r\nX-Trailer: yes\r\n\r\n"};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  for (int i = 0; i < 3; ++i) {
    auto& out = post<client>(engine, call, srv.url());
    CAPTURE(i);
    CHECK(out.error == transport_error::none);
    CHECK(out.status == 200);
    CHECK(out.body == completion);
    CHECK(out.sends == 1);
    CHECK(classify(out) == failure_kind::none);
  }
  CHECK(srv.requests() == 3);
  CHECK(srv.connections() == 1);
}

TEST_CASE_TEMPLATE("wire: Connection: close means a new connection per "
                   "request", client, via_native, via_libcurl) {
  scripted_server srv{[](int) {
    return reply{ok_with_length(completion, "Connection: close\r\n"), true};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  for (int i = 0; i < 3; ++i) {
    auto& out = post<client>(engine, call, srv.url());
    CAPTURE(i);
    CHECK(out.error == transport_error::none);
    CHECK(out.status == 200);
    CHECK(out.body == completion);
  }
  CHECK(srv.connections() == 3);
}

TEST_CASE_TEMPLATE("wire: an HTTP/1.0 body without length ends at the close",
                   client, via_native, via_libcurl) {
  scripted_server srv{[](int) {
    return reply{"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
                   + completion,
                 true};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  auto& out = post<client>(engine, call, srv.url());
  CHECK(out.error == transport_error::none);
  CHECK(out.status == 200);
  CHECK(out.body == completion);
}

TEST_CASE_TEMPLATE("wire: 100 Continue before the answer is skipped", client,
                   via_native, via_libcurl) {
  scripted_server srv{[](int) {
    return reply{"HTTP/1.1 100 Continue\r\n\r\n" + ok_with_length(completion)};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  auto& out = post<client>(engine, call, srv.url());
  CHECK(out.error == transport_error::none);
  CHECK(out.status == 200);
  CHECK(out.body == completion);
}

TEST_CASE_TEMPLATE("wire: a pooled connection closed under the next request "
                   "is retried once on a new one, and counted",
                   client, via_native, via_libcurl) {
  // Request 0 is answered and the connection kept; request 1 arrives on it
  // and the server closes without a byte (as after its idle timeout);
  // request 2 is the re-send on a fresh connection.
  scripted_server srv{[](int i) {
    if (i == 1)
      return reply{"", true};
    return reply{ok_with_length(completion)};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  auto& first = post<client>(engine, call, srv.url());
  CHECK(first.status == 200);
  CHECK(first.sends == 1);
  auto& second = post<client>(engine, call, srv.url());
  CHECK(second.error == transport_error::none);
  CHECK(second.status == 200);
  CHECK(second.body == completion);
  CHECK(second.sends == 2); // the server read two requests for this transfer
  CHECK(srv.requests() == 3);
  CHECK(srv.connections() == 2);
}

TEST_CASE_TEMPLATE("wire: a server that closes after each answer without "
                   "saying so: every request answered, every send counted",
                   client, via_native, via_libcurl) {
  scripted_server srv{[](int) { return reply{ok_with_length(completion), true}; }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  int sends = 0;
  for (int i = 0; i < 10; ++i) {
    auto& out = post<client>(engine, call, srv.url());
    CAPTURE(i);
    CHECK(out.error == transport_error::none);
    CHECK(out.status == 200);
    CHECK(out.body == completion);
    sends += static_cast<int>(out.sends);
  }
  // A close seen before the next request means a new connection and one
  // send; one that races it costs a re-send, counted although the server
  // never read the first: the client never counts less than the server saw,
  // and re-sends at most once per request.
  MESSAGE("sends for 10 requests: " << sends);
  CHECK(srv.requests() == 10);
  CHECK(srv.connections() == 10);
  CHECK(sends >= 10);
  CHECK(sends <= 20);
}

TEST_CASE_TEMPLATE("wire: an empty reply on a new connection is not re-sent",
                   client, via_native, via_libcurl) {
  scripted_server srv{[](int) { return reply{"", true}; }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  auto& out = post<client>(engine, call, srv.url());
  CHECK(out.error == transport_error::no_reply);
  CHECK(out.sends == 1);
  CHECK(classify(out) == failure_kind::transport);
  CHECK(srv.requests() == 1);
}

TEST_CASE_TEMPLATE("wire: a body cut before Content-Length is a transport "
                   "failure", client, via_native, via_libcurl) {
  scripted_server srv{[](int) {
    return reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"choices\"",
                 true};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  auto& out = post<client>(engine, call, srv.url());
  CHECK(out.error == transport_error::truncated);
  CHECK(out.error_text.find("bytes remaining") != std::string::npos);
  CHECK(classify(out) == failure_kind::transport);
}

TEST_CASE_TEMPLATE("wire: garbage instead of a status line is a transport "
                   "failure", client, via_native, via_libcurl) {
  scripted_server srv{[](int) {
    return reply{"SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n", true};
  }};
  http_engine engine{1};
  std::shared_ptr<http_call> call;
  auto& out = post<client>(engine, call, srv.url());
  CHECK(out.error != transport_error::none);
  CHECK_FALSE(out.error_text.empty());
  CHECK(classify(out) == failure_kind::transport);
}

TEST_CASE("wire: which URLs the own client takes") {
  std::string why;
  CHECK(native_http_eligible("http://127.0.0.1:8000/v1/completions", http_client_kind::native));
  CHECK(native_http_eligible("http://localhost:8000/v1", http_client_kind::native));
  CHECK(native_http_eligible("HTTP://LOCALHOST/v1", http_client_kind::native));
  CHECK(native_http_eligible("http://[::1]:9/v1/completions", http_client_kind::native));
  CHECK_FALSE(native_http_eligible("https://127.0.0.1:8000/v1", http_client_kind::native, &why));
  CHECK(why.find("http://") != std::string::npos);
  CHECK_FALSE(native_http_eligible("http://gpu-node-3:8000/v1", http_client_kind::native, &why));
  CHECK(why.find("name") != std::string::npos);
  CHECK_FALSE(native_http_eligible("http://user:pw@127.0.0.1:8000/v1", http_client_kind::native, &why));
  CHECK_FALSE(native_http_eligible("http://127.0.0.1:99999/v1", http_client_kind::native, &why));
  CHECK_FALSE(native_http_eligible("http://127.0.0.1:8x/v1", http_client_kind::native, &why));

  // libcurl when asked for, whatever the URL; native falls back where it
  // cannot go.
  http_options o;
  o.client = http_client_kind::libcurl;
  http_call forced{o};
  forced.prepare_post("http://127.0.0.1:8000/v1/completions", "{}");
  CHECK_FALSE(forced.uses_native());
  o.client = http_client_kind::native;
  http_call fallback{o};
  fallback.prepare_post("https://127.0.0.1:8000/v1/completions", "{}");
  CHECK_FALSE(fallback.uses_native());
  fallback.prepare_post("http://127.0.0.1:8000/v1/completions", "{}");
  CHECK(fallback.uses_native());

  // auto: the own client for loopback only; a GPU node on the network gets
  // libcurl unless native is asked for.
  CHECK(native_http_eligible("http://127.0.0.1:8000/v1", http_client_kind::automatic));
  CHECK(native_http_eligible("http://127.3.4.5:8000/v1", http_client_kind::automatic));
  CHECK(native_http_eligible("http://[::1]:8000/v1", http_client_kind::automatic));
  CHECK(native_http_eligible("http://localhost:8000/v1", http_client_kind::automatic));
  CHECK_FALSE(native_http_eligible("http://10.0.0.5:8000/v1", http_client_kind::automatic, &why));
  CHECK(why.find("loopback") != std::string::npos);
  CHECK(native_http_eligible("http://10.0.0.5:8000/v1", http_client_kind::native));
  CHECK_FALSE(native_http_eligible("http://127.0.0.1:8000/v1", http_client_kind::libcurl));
  o.client = http_client_kind::automatic;
  http_call automatic{o};
  automatic.prepare_post("http://10.0.0.5:8000/v1/completions", "{}");
  CHECK_FALSE(automatic.uses_native());
  automatic.prepare_post("http://127.0.0.1:8000/v1/completions", "{}");
  CHECK(automatic.uses_native());
}
