// host_gate: the ramp of a host's first sends, on a made-up clock.
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
