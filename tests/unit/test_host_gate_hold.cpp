// host_gate before any request is stuck: the ramp of a host's first sends
// and the hold on new connections the server passes over; on a made-up
// clock.
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/unit/host_gate_fixture.hpp"

using namespace host_gate_fixture;

TEST_CASE("host_gate: a host's first sends ramp up by 16 per ms, plus one per answer") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  CHECK(g.may_send(h, t0)); // never sent to
  for (uintptr_t id = 1; id <= 16; ++id)
    g.sent(h, id, t0);
  CHECK_FALSE(g.may_send(h, t0 + 999us));
  CHECK(g.ramping(h, t0 + 999us));
  CHECK(g.may_send(other, t0)); // per host
  // An answer frees its slot and adds one.
  g.ended(h, 1, t0 + 999us, true, std::nullopt);
  g.sent(h, 1, t0 + 999us);
  CHECK(g.may_send(h, t0 + 999us));
  g.sent(h, 34, t0 + 999us);
  CHECK_FALSE(g.may_send(h, t0 + 999us));
  CHECK(g.may_send(h, t0 + 1ms)); // the next step: 32 + 1
  for (uintptr_t id = 17; id <= 32; ++id)
    g.sent(h, id, t0 + 1ms);
  CHECK_FALSE(g.may_send(h, t0 + 1ms));
  CHECK(g.may_send(h, t0 + 2ms));
  // Not a cap: the host stays unlimited, and the ramp does not come back.
  CHECK(g.cap(h) == host_gate::unlimited);
  for (uintptr_t id = 100; id < 400; ++id)
    g.sent(h, id, t0 + 1s);
  CHECK(g.may_send(h, t0 + 1s));
  CHECK_FALSE(g.ramping(h, t0 + 1s));

  host_gate::params off;
  off.ramp_step = 0;
  host_gate free{off};
  for (uintptr_t id = 1; id <= 300; ++id)
    free.sent(h, id, t0);
  CHECK(free.may_send(h, t0));
}

TEST_CASE("host_gate: new connections passed over for 2 rounds hold further sends, before any is stuck") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  // 32 sent on new connections, the server serves 1..8: one round (8
  // answers) is not enough.
  auto t = serve_rounds(g, t0, 32, 8, 1);
  g.pass_over(t, fresh);
  CHECK(g.passed_over(h) == 0);
  CHECK(g.cap(h) == host_gate::unlimited);
  // Two rounds (16 answers since they were sent): 9..32 are passed over.
  t += 1ms;
  for (uintptr_t id = 1000; id < 1008; ++id) {
    g.ended(h, id, t, true, std::nullopt);
    g.sent(h, id + 100, t);
  }
  g.pass_over(t, fresh);
  CHECK(g.passed_over(h) == 24);
  CHECK(g.cap(h) == 8); // the requests left: the ones served
  CHECK(g.on_wire(h) == 32);
  CHECK_FALSE(g.may_send(h, later));
  // No time bar for the hold, but nothing is moved: the stuck verdict
  // still waits for its bar.
  CHECK(g.stuck(t, fresh).empty());
  // A served one answers: its slot is free again (the passed-over ones do
  // not count against the cap).
  g.ended(h, 1100, t + 1ms, true, std::nullopt);
  CHECK(g.may_send(h, later));
  // Found stuck later (8 rounds of the 7 served): moved, and the cap stays
  // at the served ones.
  for (uintptr_t id = 3000; id < 3056; ++id) {
    g.sent(h, id, t + 2ms);
    g.ended(h, id, t + 2ms, true, std::nullopt);
  }
  auto s = g.stuck(t0 + 60ms, fresh);
  CHECK(s.size() == 24);
  CHECK(g.passed_over(h) == 0);
  CHECK(g.cap(h) == 7);
}

TEST_CASE("host_gate: a passed-over request answered on its own connection lifts the hold") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  auto t = serve_rounds(g, t0, 32, 8, 2);
  g.pass_over(t, fresh);
  REQUIRE(g.passed_over(h) == 24);
  REQUIRE(g.cap(h) == 8);
  g.ended(h, 9, t + 1ms, true, fresh(9)); // the server did serve it
  CHECK(g.cap(h) == host_gate::unlimited);
  CHECK(g.passed_over(h) == 23);
  // A request that failed says nothing: a held host stays held.
  host_gate k;
  t = serve_rounds(k, t0, 32, 8, 2);
  k.pass_over(t, fresh);
  k.ended(h, 9, t + 1ms, false, fresh(9));
  CHECK(k.cap(h) == 8);
  CHECK(k.passed_over(h) == 23);
}

TEST_CASE("host_gate: once held, a request sent in a slot of the hold is not passed over") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  auto t = serve_rounds(g, t0, 32, 8, 2);
  g.pass_over(t, fresh);
  REQUIRE(g.passed_over(h) == 24);
  // A served connection closes; its next request goes on a new one (id 40,
  // opened after every answered one), which the server does not serve.
  g.ended(h, 1100, t + 1ms, true, std::nullopt);
  g.sent(h, 40, t + 1ms);
  for (uintptr_t id = 2000; id < 2040; ++id) { // 40 more rounds of answers
    g.sent(h, id, t + 2ms);
    g.ended(h, id, t + 2ms, true, std::nullopt);
  }
  g.pass_over(t + 3ms, fresh);
  // It keeps its slot: otherwise each such request would let one more new
  // connection open.
  CHECK(g.passed_over(h) == 24);
  CHECK_FALSE(g.may_send(h, later)); // 7 served + 40 in a cap of 8
}

TEST_CASE("host_gate: a stuck verdict counts another group's passed-over requests in the cap") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  // Group 0: 1..4 served, 9..16 not; group 1: 5..8 served, 17..24 not.
  auto group_of = [](uintptr_t id) { return (id >= 5 && id <= 8) || id >= 17 ? 1u : 0u; };
  for (uintptr_t id = 1; id <= 24; ++id)
    g.sent(h, id, t0 + std::chrono::microseconds(id), group_of(id));
  auto t = t0 + 1ms;
  for (uintptr_t id = 1; id <= 8; ++id)
    g.ended(h, id, t, true, fresh(id));
  for (int r = 0; r < 20; ++r) { // served, pooled, then between requests
    t += 1ms;
    for (uintptr_t k = 0; k < 8; ++k) {
      uintptr_t id = 1000 + static_cast<uintptr_t>(r) * 8 + k;
      g.sent(h, id, t, k < 4 ? 0u : 1u);
      g.ended(h, id, t, true, std::nullopt);
    }
  }
  g.pass_over(t, fresh, 0);
  g.pass_over(t, fresh, 1);
  REQUIRE(g.passed_over(h) == 16);
  // Group 0 moves its 8; group 1's are still on the wire until it moves
  // them: they count, or the cap would be 1 while the served connections
  // are between requests.
  REQUIRE(g.stuck(t0 + 60ms, fresh, 0).size() == 8);
  CHECK(g.cap(h) == 8);
  CHECK(g.passed_over(h) == 8);
}
