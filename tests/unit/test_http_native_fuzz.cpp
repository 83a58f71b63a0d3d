// The own client's connection state machine, byte by byte: every answer
// split at every byte, cut by a FIN at every byte, and cut by a reset at
// every byte. A whole answer must be read exactly; a cut one must fail as a
// transport error (never pass as a success, never hang). Bounded: a few
// hundred cases, one connection each (two when a pooled one the server
// closed is re-sent on), 10 s timeout each.
#include <doctest/doctest.h>

#include <atomic>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "actors/request/http_engine.hpp"
#include "tests/unit/scripted_server.hpp"

using namespace evo;
using evo::test::reply;
using evo::test::scripted_server;
using namespace std::chrono_literals;

namespace {

const std::string body = R"({"model":"m","choices":[{"index":0,"text":"merge_sorted"}]})";

const std::string answers[] = {
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + std::to_string(body.size()) + "\r\n\r\n" + body,
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n"
    + body.substr(0, 16) + "\r\n" + [] {
        char size[16];
        std::snprintf(size, sizeof size, "%zx", body.size() - 16);
        return std::string{size};
      }() + "\r\n" + body.substr(16) + "\r\n0\r\n\r\n",
};

enum class cut { split, fin, reset };

} // namespace

TEST_CASE("native state machine: split, FIN and reset at every byte") {
  for (auto how : {cut::split, cut::fin, cut::reset}) {
    for (int a = 0; a < 2; ++a) {
      const std::string& answer = answers[a];
      // Read by the server thread, advanced by this one.
      std::atomic<size_t> k{0};
      scripted_server srv{[&](int) {
        switch (how) {
          case cut::split: return reply{answer, true, false, k};
          case cut::fin: return reply{answer.substr(0, k), true};
          case cut::reset: return reply{answer.substr(0, k), false, true};
        }
        return reply{};
      }};
      http_engine engine{1};
      http_options o;
      o.timeout = 10s;
      o.client = http_client_kind::native;
      auto call = std::make_shared<http_call>(o);
      for (k = 0; k <= answer.size(); ++k) {
        CAPTURE(static_cast<int>(how));
        CAPTURE(a);
        CAPTURE(k);
        auto done = std::make_shared<std::promise<void>>();
        auto fut = done->get_future();
        call->on_done = [done] { done->set_value(); };
        call->prepare_post(srv.url(), "{}");
        REQUIRE(call->uses_native());
        engine.submit(call);
        REQUIRE(fut.wait_for(15s) == std::future_status::ready);
        auto& out = call->outcome();
        bool whole = how == cut::split || k == answer.size();
        if (whole && how != cut::reset) {
          CHECK(out.error == transport_error::none);
          CHECK(out.status == 200);
          CHECK(out.body == body);
        } else if (!whole) {
          CHECK(out.error != transport_error::none);
          CHECK(out.error != transport_error::timeout);
          CHECK(out.error != transport_error::too_large);
          if (k == 0)
            CHECK((out.error == transport_error::no_reply
                   || out.error == transport_error::recv));
        } else if (out.error == transport_error::none) {
          // The whole answer, then a reset: read in full or lost to it.
          CHECK(out.body == body);
        }
      }
    }
  }
}
