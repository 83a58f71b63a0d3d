// node_limits: one adaptive limit per node (the head's pool, each worker),
// on a made-up clock.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/coordinator/node_limits.hpp"

using evo::concurrency_limit;
using evo::concurrency_limit_config;
using evo::node_limits;

namespace {

concurrency_limit_config config(size_t floor, size_t initial, size_t ceiling) {
  concurrency_limit_config c;
  c.floor = floor;
  c.initial = initial;
  c.ceiling = ceiling;
  return c;
}

/// Idle request actors, oldest first, as the node each belongs to.
using idle_list = std::vector<size_t>;

size_t picked(const node_limits& nl, const idle_list& idle) {
  auto it = nl.pick(idle.begin(), idle.end(), [](size_t node) { return node; });
  return it == idle.end() ? SIZE_MAX : static_cast<size_t>(it - idle.begin());
}

} // namespace

TEST_CASE("dispatch goes only to a node with headroom, oldest idle first") {
  node_limits nl{true, config(1, 1, 64)};
  auto a = nl.join("a:1", "http://a/v1", 4, 4, 0);
  auto b = nl.join("b:1", "http://b/v1", 4, 4, 0);
  nl.start(0);
  REQUIRE(nl.limit(a) == 1);
  REQUIRE(nl.limit(b) == 1);
  idle_list idle{a, a, b};
  CHECK(picked(nl, idle) == 0); // both have room: the oldest
  nl.sent(a);
  CHECK_FALSE(nl.headroom(a)); // 1 in flight of 1
  CHECK(nl.headroom(b));
  CHECK(picked(nl, idle) == 2); // a's actors wait, b's goes
  nl.sent(b);
  CHECK(picked(nl, idle) == SIZE_MAX); // no node has room
  nl.returned(a);
  CHECK(nl.in_flight(a) == 0);
  CHECK(nl.in_flight(b) == 1);
  CHECK(picked(nl, idle) == 0);
  CHECK(nl.total_limit() == 2);
}

TEST_CASE("without adaptive every live node has headroom and no limit is "
          "traced") {
  node_limits nl{false, config(1, 1, 64)};
  auto a = nl.join("local", "http://x/v1", 2, 2, 0);
  nl.start(0);
  for (int i = 0; i < 10; ++i)
    nl.sent(a);
  CHECK(nl.headroom(a));
  CHECK(picked(nl, {a, a}) == 0);
  nl.on_overload(a, 1.0, -1);
  CHECK(nl.trace().series.empty());
  CHECK(nl.trace().nodes.empty());
  CHECK(nl.progress_text().empty());
}

TEST_CASE("a node's overload cuts only its own limit") {
  node_limits nl{true, config(2, 16, 64)};
  auto a = nl.join("small:1", "http://small/v1", 64, 64, 0);
  auto b = nl.join("big:1", "http://big/v1", 64, 64, 0);
  nl.start(0);
  REQUIRE(nl.limit(a) == 16);
  REQUIRE(nl.limit(b) == 16);
  nl.on_overload(a, 1.0, 2.0);
  CHECK(nl.limit(a) < 16);
  CHECK(nl.limit(b) == 16);
  CHECK(nl.total_limit() == nl.limit(a) + 16);
  auto t = nl.trace();
  REQUIRE(t.nodes.size() == 2);
  CHECK(t.nodes[0].node == "small:1");
  CHECK(t.nodes[0].base_url == "http://small/v1");
  CHECK(t.nodes[0].final == nl.limit(a));
  CHECK(t.nodes[1].final == 16);
  // The run's trace is the sum: 32 at the start, then less.
  CHECK(t.max == 32);
  CHECK(t.final == nl.total_limit());
  REQUIRE(t.series.size() == 2);
  CHECK(t.series[0].second == 32);
  CHECK(t.series[1].first == doctest::Approx(1.0));
  CHECK(t.series[1].second == nl.total_limit());
}

TEST_CASE("a refusal keeps the refused slot of its own node empty") {
  node_limits nl{true, config(1, 16, 64)};
  auto a = nl.join("small:1", "http://small/v1", 64, 64, 0);
  auto b = nl.join("big:1", "http://big/v1", 64, 64, 0);
  nl.start(0);
  for (int i = 0; i < 16; ++i) {
    nl.sent(a);
    nl.sent(b);
  }
  // One refusal: the ordinary cut (15 still out, more than 16 x 0.7).
  nl.returned(a);
  nl.on_refused(a, 1.0, 1.0);
  auto cut = nl.limit(a);
  REQUIRE(cut == 11);
  // Answers drain node a to 6 out; a refusal then (within the cut's
  // latency) caps its limit at those 6, whatever node b has out.
  for (int i = 0; i < 8; ++i)
    nl.returned(a);
  nl.returned(a);
  nl.on_refused(a, 1.001, 1.0);
  CHECK(nl.in_flight(a) == 6);
  CHECK(nl.limit(a) == 6);
  CHECK_FALSE(nl.headroom(a));
  CHECK(nl.limit(b) == 16);
  CHECK(nl.total_limit() == 22);
}

TEST_CASE("a node's limit is at most what it lends and the run's ceiling") {
  node_limits nl{true, config(8, 100, 6)};
  auto a = nl.join("a:1", "", 4, 4, 0);
  auto b = nl.join("b:1", "", 50, 50, 0);
  nl.start(0);
  CHECK(nl.limit(a) == 4); // lends 4
  CHECK(nl.limit(b) == 6); // the semaphore
}

TEST_CASE("a node that leaves drops its limit; one that joins again starts "
          "afresh") {
  node_limits nl{true, config(1, 10, 64)};
  auto a = nl.join("w:1", "http://w/v1", 20, 2, 0);
  auto b = nl.join("v:1", "http://v/v1", 20, 1, 0);
  nl.start(0);
  nl.on_overload(a, 1.0, -1);
  auto cut = nl.limit(a);
  REQUIRE(cut < 10);
  // More actors of a live node join it, not a new node.
  CHECK(nl.join("w:1", "http://w/v1", 20, 1, 1.5) == a);
  CHECK_FALSE(nl.actor_lost(a, 2.0));
  CHECK_FALSE(nl.actor_lost(a, 2.0));
  CHECK(nl.live(a));
  CHECK(nl.actor_lost(a, 3.0)); // its last actor: the node leaves
  CHECK_FALSE(nl.live(a));
  CHECK_FALSE(nl.headroom(a));
  CHECK(nl.total_limit() == nl.limit(b));
  CHECK(nl.live_nodes() == 1);
  auto again = nl.join("w:1", "http://w/v1", 20, 2, 4.0);
  CHECK(again != a);
  CHECK(nl.limit(again) == 10); // fresh, not the cut one
  CHECK(nl.total_limit() == 10 + nl.limit(b));
  auto t = nl.trace();
  REQUIRE(t.nodes.size() == 3);
  CHECK(t.nodes[0].final == 0);
  CHECK(t.nodes[0].series.back().first == doctest::Approx(3.0));
  CHECK(t.nodes[0].series.back().second == 0);
  CHECK(t.nodes[2].node == "w:1");
  // Its series counts from the run's start, not from its join.
  CHECK(t.nodes[2].series.front().first == doctest::Approx(4.0));
  CHECK(t.nodes[2].series.front().second == 10);
  // The sum fell when the node left, rose when it came back.
  CHECK(t.min == nl.limit(b));
  CHECK(t.final == 10 + nl.limit(b));
}

TEST_CASE("one node: the run's trace is that node's limit as it would run "
          "alone") {
  auto c = config(1, 0, 64);
  node_limits nl{true, c};
  auto a = nl.join("local", "http://x/v1", 64, 64, 0);
  nl.start(0);
  concurrency_limit alone{c, 0};
  size_t in_flight = 0;
  double t = 0;
  // A server whose throughput grows with what is in flight up to 20.
  for (int i = 0; i < 20000 && t < 30; ++i) {
    t += 0.002;
    while (nl.in_flight(a) < nl.limit(a)) { // the client fills the limit
      nl.sent(a);
      alone.on_sent(nl.in_flight(a));
    }
    in_flight = nl.in_flight(a);
    auto lat = 0.05;
    uint64_t tokens = std::min<size_t>(in_flight, 20);
    nl.on_success(a, t, tokens, lat);
    alone.on_success(t, tokens, lat);
    nl.returned(a);
    if (i == 9000) {
      nl.on_overload(a, t, 0.5);
      alone.on_overload(t, 0.5);
    }
    REQUIRE(nl.limit(a) == alone.limit());
  }
  auto mine = nl.trace();
  auto theirs = alone.trace();
  CHECK(mine.series.size() > 3); // the limit moved
  CHECK(mine.series == theirs.series);
  CHECK(mine.min == theirs.min);
  CHECK(mine.max == theirs.max);
  CHECK(mine.final == theirs.final);
  REQUIRE(mine.nodes.size() == 1);
  CHECK(mine.nodes[0].series == theirs.series);
}

TEST_CASE("the progress text names each node's in flight and limit") {
  node_limits nl{true, config(1, 4, 64)};
  auto a = nl.join("a:1", "", 8, 8, 0);
  CHECK(nl.progress_text().empty()); // one node: the line says it already
  nl.join("b:1", "", 8, 8, 0);
  nl.start(0);
  nl.sent(a);
  CHECK(nl.progress_text() == "a:1 1/4 b:1 0/4");
}
