// host_gate: the per-host cap learnt from stuck requests, on a made-up clock.
#include <doctest/doctest.h>

#include <algorithm>

#include "actors/request/host_gate.hpp"

using evo::host_gate;
using namespace std::chrono_literals;

namespace {

const std::string h = "http://127.0.0.1:8080";
const std::string other = "http://127.0.0.1:9090";
// Long after any ramp (host_gate::params::ramp_step): tests of the cap ask
// may_send() then.
const auto later = host_gate::clock::time_point{} + std::chrono::hours(1);

// Ids below 1000 go on connections of their own, opened in the order of the
// ids; the others on pooled ones.
std::optional<host_gate::clock::time_point> fresh(uintptr_t id) {
  if (id >= 1000)
    return std::nullopt;
  return host_gate::clock::time_point{} + std::chrono::microseconds(id);
}

// Ids 1..n sent at t0 + id us, each on a new connection; ids 1..served
// answer at t0 + 1 ms (the server serves them first), and each answer is
// followed at once by a new request on that connection (ids from 1000),
// answered 1 ms later. `rounds` rounds of that; returns the time after.
host_gate::clock::time_point serve_rounds(host_gate& g, host_gate::clock::time_point t0,
                                          uintptr_t n, uintptr_t served, int rounds) {
  for (uintptr_t id = 1; id <= n; ++id)
    g.sent(h, id, t0 + std::chrono::microseconds(id));
  auto t = t0;
  std::vector<uintptr_t> live;
  for (uintptr_t id = 1; id <= served; ++id)
    live.push_back(id);
  uintptr_t next = 1000;
  for (int r = 0; r < rounds; ++r) {
    t += 1ms;
    for (auto& id : live) {
      g.ended(h, id, t, true, fresh(id));
      id = next++;
      g.sent(h, id, t);
    }
  }
  return t;
}

} // namespace

TEST_CASE("host_gate: a new host is unlimited") {
  host_gate g;
  CHECK(g.may_send(h, later));
  CHECK(g.cap(h) == host_gate::unlimited);
  for (uintptr_t id = 1; id <= 300; ++id)
    g.sent(h, id, host_gate::clock::time_point{});
  CHECK(g.may_send(h, later));
  CHECK(g.on_wire(h) == 300);
}

TEST_CASE("host_gate: 32 sent, 8 served: the 24 others are stuck and the host is capped at 8") {
  host_gate g; // floor 50 ms, factor 4, 4 peer answers
  auto t0 = host_gate::clock::time_point{} + 1s;
  auto t = serve_rounds(g, t0, 32, 8, 20); // 160 answers, p95 1 ms
  CHECK(g.on_wire(h) == 32);
  // Not before the floor (4 x 1 ms is below it) ...
  CHECK(g.stuck(t0 + 50ms + 9us, fresh).empty());
  CHECK(g.cap(h) == host_gate::unlimited);
  // ... then exactly the 24 never answered, none of the served ones (sent
  // within the last 31 ms).
  auto s = g.stuck(t0 + 50ms + 33us, fresh);
  (void)t;
  std::sort(s.begin(), s.end());
  REQUIRE(s.size() == 24);
  for (size_t i = 0; i < 24; ++i)
    CHECK(s[i] == 9 + i);
  CHECK(g.cap(h) == 8);
  CHECK(g.on_wire(h) == 8);
  CHECK_FALSE(g.may_send(h, later));
  // Taken off the books: not reported twice.
  CHECK(g.stuck(t0 + 55ms, fresh).empty());
  // An answer frees a slot for one more.
  g.ended(h, 1000, t0 + 56ms, true, std::nullopt); // id 1000 ended in round 2 already: ignored
  CHECK_FALSE(g.may_send(h, later));
  g.ended(h, 1152, t0 + 56ms, true, std::nullopt); // one of the last round's
  CHECK(g.may_send(h, later));
  // The other host is untouched.
  CHECK(g.may_send(other, later));
  CHECK(g.cap(other) == host_gate::unlimited);
}

TEST_CASE("host_gate: slow answers raise the bar to factor x p95") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  // 8 answers that took 100 ms each: p95 = 100 ms, the bar 400 ms (98 and
  // 99 alone on the wire need 8 x 1 answers after them; two, so not the
  // lone bar).
  for (uintptr_t id = 1; id <= 8; ++id)
    g.sent(h, id, t0);
  g.sent(h, 98, t0 + 1us);
  g.sent(h, 99, t0 + 1us);
  for (uintptr_t id = 1; id <= 4; ++id)
    g.ended(h, id, t0 + 100ms, true, fresh(id));
  for (uintptr_t id = 5; id <= 8; ++id)
    g.ended(h, id, t0 + 100ms, true, std::nullopt);
  CHECK(g.stuck(t0 + 400ms + 1us, fresh).empty());
  auto s = g.stuck(t0 + 400ms + 2us, fresh);
  std::sort(s.begin(), s.end());
  CHECK(s == std::vector<uintptr_t>{98, 99});
  CHECK(g.cap(h) == 1); // nothing else in flight: at least one
}

TEST_CASE("host_gate: a lone request that looks stuck on a host never found stuck waits for the lone bar") {
  // The same as above with 99 alone: it may be a hang or a long generation
  // on the newest connection. Bar 400 ms; lone bar max(2 s, 4 x 400 ms).
  auto run = [](host_gate& g, host_gate::clock::time_point t0) {
    for (uintptr_t id = 1; id <= 8; ++id)
      g.sent(h, id, t0);
    g.sent(h, 99, t0 + 1us);
    for (uintptr_t id = 1; id <= 4; ++id)
      g.ended(h, id, t0 + 100ms, true, fresh(id));
    for (uintptr_t id = 5; id <= 8; ++id)
      g.ended(h, id, t0 + 100ms, true, std::nullopt);
  };
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  run(g, t0);
  CHECK(g.stuck(t0 + 400ms + 2us, fresh).empty());
  CHECK(g.stuck(t0 + 2s + 1us, fresh).empty());
  CHECK(g.cap(h) == host_gate::unlimited);
  auto s = g.stuck(t0 + 2s + 2us, fresh);
  CHECK(s == std::vector<uintptr_t>{99});
  CHECK(g.cap(h) == 1);
  // The hold (no time bar) leaves a lone one alone too.
  host_gate k;
  run(k, t0);
  k.pass_over(t0 + 1s, fresh);
  CHECK(k.passed_over(h) == 0);
  CHECK(k.cap(h) == host_gate::unlimited);
  // Once the host has been found stuck, a lone one has the normal bar:
  // its server is thread-limited.
  for (uintptr_t id = 200; id <= 208; ++id)
    g.sent(h, id, t0 + 3s);
  for (uintptr_t id = 200; id <= 207; ++id) // p95 now 100 ms still
    g.ended(h, id, t0 + 3s + 100ms, true, std::nullopt);
  CHECK(g.stuck(t0 + 3s + 400ms, fresh).empty());
  CHECK(g.stuck(t0 + 3s + 401ms, fresh) == std::vector<uintptr_t>{208});
}

TEST_CASE("host_gate: no stuck verdict without answers after the request was sent") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  for (uintptr_t id = 1; id <= 8; ++id)
    g.sent(h, id, t0 + std::chrono::microseconds(id));
  // 1..4 answer, then 16 more on pooled connections (16 = 4 x the 4 on
  // the wire after 5..8's).
  for (uintptr_t id = 1; id <= 4; ++id)
    g.ended(h, id, t0 + 1ms, true, fresh(id));
  for (uintptr_t id = 1000; id < 1016; ++id) {
    g.sent(h, id, t0 + 1ms);
    g.ended(h, id, t0 + 1ms, true, std::nullopt);
  }
  g.sent(h, 50, t0 + 2ms); // sent after every answer so far
  // 5..8 saw 20 answers after them; 50 saw none, however long it waits.
  auto s = g.stuck(t0 + 10s, fresh);
  std::sort(s.begin(), s.end());
  CHECK(s == std::vector<uintptr_t>{5, 6, 7, 8});
  CHECK(g.cap(h) == 1);
  CHECK(g.stuck(t0 + 20s, fresh).empty());
}

TEST_CASE("host_gate: failures say nothing about the server") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  for (uintptr_t id = 1; id <= 10; ++id)
    g.sent(h, id, t0);
  for (uintptr_t id = 1; id <= 8; ++id)
    g.ended(h, id, t0 + 1ms, false, fresh(id)); // e.g. connection refused
  CHECK(g.stuck(t0 + 10s, fresh).empty());
  CHECK(g.on_wire(h) == 2);
  CHECK(g.cap(h) == host_gate::unlimited);
}

TEST_CASE("host_gate: a capped host gets one more slot per quiet probe period, only while requests wait") {
  host_gate g; // probe every 2 s
  auto t0 = host_gate::clock::time_point{} + 1s;
  serve_rounds(g, t0, 32, 8, 20);
  auto t1 = t0 + 51ms;
  REQUIRE(g.stuck(t1, fresh).size() == 24);
  REQUIRE(g.cap(h) == 8);
  std::unordered_map<std::string, size_t> waiting{{h, 24}};
  g.probe(t1 + 1999ms, waiting);
  CHECK(g.cap(h) == 8);
  g.probe(t1 + 2s, waiting);
  CHECK(g.cap(h) == 9);
  g.probe(t1 + 3s, waiting); // within the period of the last raise
  CHECK(g.cap(h) == 9);
  // The cap is not binding (8 on the wire, cap 9): no raise.
  g.probe(t1 + 10s, waiting);
  CHECK(g.cap(h) == 9);
  // Nothing waits: no raise either.
  g.sent(h, 5000, t1 + 10s);
  g.probe(t1 + 10s, {});
  CHECK(g.cap(h) == 9);
  g.probe(t1 + 10s, waiting);
  CHECK(g.cap(h) == 10);
}

TEST_CASE("host_gate: a request held on a connection that answered before is never stuck") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  serve_rounds(g, t0, 8, 8, 10); // 8 connections, all served
  // A ninth request, on a pooled connection (e.g. the server hangs on it).
  g.sent(h, 2000, t0 + 11ms);
  for (uintptr_t id = 1072; id < 1080; ++id)
    g.ended(h, id, t0 + 12ms, true, std::nullopt);
  CHECK(g.stuck(t0 + 10s, fresh).empty());
  CHECK(g.cap(h) == host_gate::unlimited);
  CHECK(g.on_wire(h) == 1);
}

TEST_CASE("host_gate: a connection opened later and answered first: not a queue, not stuck") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  for (uintptr_t id = 1; id <= 3; ++id)
    g.sent(h, id, t0 + std::chrono::microseconds(id));
  g.ended(h, 1, t0 + 1ms, true, fresh(1));
  g.ended(h, 2, t0 + 1ms, true, fresh(2));
  // 3 waits (say the server hangs on it); 4..6 open connections later and
  // 6 is answered: the server does not serve connections in order.
  for (uintptr_t id = 4; id <= 6; ++id)
    g.sent(h, id, t0 + 2ms + std::chrono::microseconds(id));
  g.ended(h, 6, t0 + 3ms, true, fresh(6));
  g.ended(h, 5, t0 + 3ms, true, fresh(5));
  for (uintptr_t id = 1000; id < 1016; ++id) { // plenty of answers after
    g.sent(h, id, t0 + 4ms);
    g.ended(h, id, t0 + 4ms, true, std::nullopt);
  }
  // 3 and 4 waited past the bar with 18 and 16 answers after them (the bar
  // is 4 x 2 on the wire), on connections of their own, yet are not stuck:
  // 5 and 6 were opened after them and served first.
  CHECK(g.stuck(t0 + 10s, fresh).empty());
  CHECK(g.cap(h) == host_gate::unlimited);
}

TEST_CASE("host_gate: a request is stuck only once the server went round its served connections 8 times") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  for (uintptr_t id = 1; id <= 8; ++id)
    g.sent(h, id, t0 + std::chrono::microseconds(id));
  g.ended(h, 1, t0 + 1ms, true, fresh(1));
  g.ended(h, 2, t0 + 1ms, true, fresh(2));
  // Two requests held on pooled connections: being served.
  g.sent(h, 2000, t0 + 1ms);
  g.sent(h, 2001, t0 + 1ms);
  uintptr_t next = 1000;
  auto answer_pooled = [&](int k) {
    for (int i = 0; i < k; ++i, ++next) {
      g.sent(h, next, t0 + 2ms);
      g.ended(h, next, t0 + 2ms, true, std::nullopt);
    }
  };
  // 3..8 wait; 2 served: they need 8 x 2 answers after them. 2 + 13 ...
  answer_pooled(13);
  CHECK(g.stuck(t0 + 10s, fresh).empty());
  answer_pooled(1); // ... 2 + 14
  auto s = g.stuck(t0 + 10s, fresh);
  std::sort(s.begin(), s.end());
  CHECK(s == std::vector<uintptr_t>{3, 4, 5, 6, 7, 8});
  CHECK(g.cap(h) == 2);
  CHECK(g.on_wire(h) == 2);
}

TEST_CASE("host_gate: groups share the host's evidence and cap; each finds its own stuck requests") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  for (uintptr_t id = 1; id <= 4; ++id) // group 0's connections, served
    g.sent(h, id, t0 + std::chrono::microseconds(id), 0);
  for (uintptr_t id = 5; id <= 8; ++id) // group 1's, opened later, never served
    g.sent(h, id, t0 + std::chrono::microseconds(id), 1);
  CHECK(g.answering_group(h) == -1);
  for (uintptr_t id = 1; id <= 4; ++id)
    g.ended(h, id, t0 + 1ms, true, fresh(id));
  for (uintptr_t id = 1000; id < 1040; ++id) {
    g.sent(h, id, t0 + 2ms, 0);
    g.ended(h, id, t0 + 2ms, true, std::nullopt);
  }
  for (uintptr_t id = 2000; id < 2008; ++id) // group 0 keeps 8 on the wire
    g.sent(h, id, t0 + 3ms, 0);
  CHECK(g.answering_group(h) == 0);
  // Group 1 has no answer of its own; the host's 44 are its evidence.
  CHECK(g.stuck(t0 + 10s, fresh, 0).empty());
  CHECK(g.cap(h) == host_gate::unlimited);
  auto s = g.stuck(t0 + 10s, fresh, 1);
  std::sort(s.begin(), s.end());
  CHECK(s == std::vector<uintptr_t>{5, 6, 7, 8});
  CHECK(g.cap(h) == 8); // the host's requests still on the wire
}

TEST_CASE("host_gate: a cap whose every slot waits on an unserved new connection rises at once, not after the probe period") {
  for (bool fresh_conn : {true, false}) {
    CAPTURE(fresh_conn);
    host_gate g; // bar 50 ms (p95 1 ms), probe every 2 s
    auto t0 = host_gate::clock::time_point{} + 1s;
    for (uintptr_t id = 1; id <= 8; ++id)
      g.sent(h, id, t0 + std::chrono::microseconds(id));
    g.ended(h, 1, t0 + 1ms, true, fresh(1));
    g.ended(h, 2, t0 + 1ms, true, fresh(2));
    for (uintptr_t id = 1000; id < 1040; ++id) {
      g.sent(h, id, t0 + 2ms);
      g.ended(h, id, t0 + 2ms, true, std::nullopt);
    }
    // Found while the served connections were between requests: capped at 1.
    REQUIRE(g.stuck(t0 + 60ms, fresh).size() == 6);
    REQUIRE(g.cap(h) == 1);
    // The one slot goes on a new connection the server does not serve (or,
    // in the control, on a served pooled one: a slow answer). No answer can
    // come, so it is never found stuck.
    uintptr_t slot = fresh_conn ? 9 : 2000;
    g.sent(h, slot, t0 + 61ms);
    std::unordered_map<std::string, size_t> waiting{{h, 5}};
    g.probe(t0 + 111ms, waiting, fresh); // it has waited exactly the bar
    CHECK(g.cap(h) == 1);
    g.probe(t0 + 112ms, waiting, fresh);
    CHECK(g.cap(h) == (fresh_conn ? 2 : 1));
    g.probe(t0 + 113ms, waiting, fresh); // at most one raise per bar
    CHECK(g.cap(h) == (fresh_conn ? 2 : 1));
    CHECK(g.stuck(t0 + 1s, fresh).empty());
    // The control gets its slot from the probe period; the raised cap does
    // not bind (1 on the wire, cap 2): no more.
    g.probe(t0 + 112ms + 2s, waiting, fresh);
    CHECK(g.cap(h) == 2);
  }
}

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
