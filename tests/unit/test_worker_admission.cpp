// The worker's admission rules without a network: token, lease, limits and
// the refusal log's rate limit.
#include <doctest/doctest.h>

#include "app/worker_admission.hpp"

using namespace evo;
using namespace std::chrono_literals;

namespace {

admission_config config_with_token(std::string token) {
  admission_config c;
  c.worker = "w1";
  c.model = "m1";
  c.token = std::move(token);
  c.dead_after = 15s;
  return c;
}

join_request request(std::string head, std::string peer,
                     std::string token = "", std::string model = "m1") {
  join_request r;
  r.protocol_version = cluster_protocol_version;
  r.model = std::move(model);
  r.head = std::move(head);
  r.token = std::move(token);
  r.peer = std::move(peer);
  return r;
}

const steady_time t0{};

} // namespace

TEST_CASE("tokens compare equal only when equal, whatever the lengths") {
  CHECK(token_equal("abc", "abc"));
  CHECK_FALSE(token_equal("abc", "abd"));
  CHECK_FALSE(token_equal("abc", "abcd"));
  CHECK_FALSE(token_equal("", "a"));
  CHECK(token_equal("", ""));
}

TEST_CASE("loopback addresses are told from network ones") {
  for (auto h : {"127.0.0.1", "127.0.0.13", "127.255.0.1", "localhost", "::1"})
    CHECK(is_loopback_host(h));
  for (auto h : {"0.0.0.0", "10.0.0.5", "127.0.0", "127.0.0.1.5", "127.a.0.1",
                 "128.0.0.1", "", "localhost.evil"})
    CHECK_FALSE(is_loopback_host(h));
}

TEST_CASE("a wrong token is refused before the model is named") {
  head_admission a{config_with_token("t0k")};
  auto r = a.join(request("h", "p", "nope", "other"), t0);
  CHECK_FALSE(r.accepted);
  CHECK(r.kind == "token");
  CHECK(r.reason.find("m1") == std::string::npos);
  auto m = a.join(request("h", "p", "t0k", "other"), t0);
  CHECK(m.kind == "model");
  CHECK(m.reason.find("'m1'") != std::string::npos);
  CHECK(a.join(request("h", "p", "t0k"), t0).accepted);
}

TEST_CASE("another protocol version is refused first") {
  head_admission a{config_with_token("")};
  auto r = request("h", "p");
  r.protocol_version = 99;
  auto d = a.join(r, t0);
  CHECK(d.kind == "version");
}

TEST_CASE("one head at a time; the same head may join again") {
  head_admission a{config_with_token("")};
  auto first = a.join(request("one", "p1"), t0);
  REQUIRE(first.accepted);
  auto busy = a.join(request("two", "p2"), t0 + 1s);
  CHECK_FALSE(busy.accepted);
  CHECK(busy.reason.find("busy, serving head one") != std::string::npos);
  // Same name from another node is another head.
  CHECK_FALSE(a.join(request("one", "p2"), t0 + 1s).accepted);
  auto again = a.join(request("one", "p1"), t0 + 2s);
  CHECK(again.accepted);
  CHECK(again.lease != first.lease);
  CHECK_FALSE(a.holds(first.lease, "p1"));
  CHECK(a.holds(again.lease, "p1"));
  CHECK_FALSE(a.holds(again.lease, "p2"));
  a.release_peer("p1");
  CHECK(a.join(request("two", "p2"), t0 + 3s).accepted);
}

TEST_CASE("a lease without heartbeat lapses after dead_after") {
  head_admission a{config_with_token("")};
  auto l = a.join(request("one", "p1"), t0).lease;
  CHECK(a.heartbeat(l, t0 + 10s));
  CHECK_FALSE(a.join(request("two", "p2"), t0 + 20s).accepted); // 10 s ago
  CHECK(a.join(request("two", "p2"), t0 + 26s).accepted);        // 16 s ago
  CHECK_FALSE(a.heartbeat(l, t0 + 27s));
}

TEST_CASE("items outside the worker's limits are refused with a reason") {
  item_limits lim{"m1", 4, 32};
  auto ok = R"({"model":"m1","prompt":"x","n":4,"max_tokens":32})";
  CHECK(check_item(lim, endpoint_kind::completions, ok).empty());
  CHECK(check_item(lim, endpoint_kind::chat_completions,
                   R"({"model":"m1","messages":[]})").empty());
  CHECK(check_item(lim, endpoint_kind::completions,
                   R"({"model":"m2","n":1})").find("another model")
        != std::string::npos);
  CHECK(check_item(lim, endpoint_kind::completions, R"({"model":"m1","n":64})")
          .find("n 64") != std::string::npos);
  // One over each limit is over it.
  CHECK(check_item(lim, endpoint_kind::completions, R"({"model":"m1","n":5})")
        != "");
  CHECK(check_item(lim, endpoint_kind::completions,
                   R"({"model":"m1","max_tokens":33})") != "");
  CHECK(check_item(lim, endpoint_kind::completions,
                   R"({"model":"m1","n":"4"})") != "");
  CHECK(check_item(lim, endpoint_kind::completions,
                   R"({"model":"m1","max_tokens":2048})")
          .find("max_tokens 2048") != std::string::npos);
  CHECK(check_item(lim, endpoint_kind::completions, "not json") != "");
  CHECK(check_item(lim, static_cast<endpoint_kind>(7), ok) != "");
}

TEST_CASE("a refusal is logged once per head and reason, then once a minute") {
  refusal_log log;
  uint64_t quiet = 0;
  CHECK(log.should_log("h", "busy", t0, quiet));
  for (int i = 1; i < 120; ++i) // every 0.5 s for a minute
    CHECK_FALSE(log.should_log("h", "busy", t0 + i * 500ms, quiet));
  CHECK(log.should_log("h", "token", t0 + 1s, quiet)); // another reason
  CHECK(log.should_log("g", "busy", t0 + 1s, quiet));  // another head
  CHECK(log.should_log("h", "busy", t0 + 60s, quiet));
  CHECK(quiet == 119);
}
