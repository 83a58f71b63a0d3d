// host_gate: the per-host cap learnt from stuck requests, on a made-up clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/unit/host_gate_fixture.hpp"

using namespace host_gate_fixture; // h, other, later, fresh(), send_fresh(), serve_rounds() ...

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
  // 8 answers that took 100 ms each: p95 = 100 ms, the bar 400 ms (99
  // alone on the wire needs 8 x 1 answers after it).
  for (uintptr_t id = 1; id <= 8; ++id)
    g.sent(h, id, t0);
  g.sent(h, 99, t0 + 1us);
  for (uintptr_t id = 1; id <= 4; ++id)
    g.ended(h, id, t0 + 100ms, true, fresh(id));
  for (uintptr_t id = 5; id <= 8; ++id)
    g.ended(h, id, t0 + 100ms, true, std::nullopt);
  CHECK(g.stuck(t0 + 400ms + 1us, fresh).empty());
  auto s = g.stuck(t0 + 400ms + 2us, fresh);
  REQUIRE(s.size() == 1);
  CHECK(s[0] == 99);
  CHECK(g.cap(h) == 1); // nothing else in flight: at least one
}

TEST_CASE("host_gate: no stuck verdict without answers after the request was sent") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  send_fresh(g, t0, 1, 8);
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
  two_of_n_answer(g, t0, 3);
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
  two_of_n_answer(g, t0, 8);
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
  send_fresh(g, t0, 1, 4); // group 0's connections, served
  send_fresh(g, t0, 5, 8, 1); // group 1's, opened later, never served
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
  // The slot goes on a new connection (opened after the newest one the
  // server answered), on a served pooled one, or on one opened before a
  // connection the server answered (the server has got to it).
  for (std::string conn : {"new", "pooled", "older"}) {
    CAPTURE(conn);
    const bool fresh_conn = conn == "new";
    host_gate g; // bar 50 ms (p95 1 ms), probe every 2 s
    auto t0 = host_gate::clock::time_point{} + 1s;
    two_of_n_answer(g, t0, 8);
    for (uintptr_t id = 1000; id < 1040; ++id) {
      g.sent(h, id, t0 + 2ms);
      g.ended(h, id, t0 + 2ms, true, std::nullopt);
    }
    // Found while the served connections were between requests: capped at 1.
    REQUIRE(g.stuck(t0 + 60ms, fresh).size() == 6);
    REQUIRE(g.cap(h) == 1);
    // The one slot goes on a new connection the server does not serve (or,
    // in the controls, on a served pooled one or one opened before id 2's,
    // which the server answered: a slow answer). No answer can come, so it
    // is never found stuck.
    uintptr_t slot = conn == "new" ? 9 : conn == "pooled" ? 2000 : 1;
    g.sent(h, slot, t0 + 61ms);
    std::unordered_map<std::string, size_t> waiting{{h, 5}};
    g.probe(t0 + 111ms, waiting, fresh); // it has waited exactly the bar
    CHECK(g.cap(h) == 1);
    g.probe(t0 + 112ms, waiting, fresh);
    CHECK(g.cap(h) == (fresh_conn ? 2 : 1));
    CHECK(g.may_send(h, later) == fresh_conn); // the raised slot is usable
    g.probe(t0 + 113ms, waiting, fresh); // at most one raise per bar
    CHECK(g.cap(h) == (fresh_conn ? 2 : 1));
    CHECK(g.stuck(t0 + 1s, fresh).empty());
    // The control gets its slot from the probe period; the raised cap does
    // not bind (1 on the wire, cap 2): no more.
    g.probe(t0 + 112ms + 2s, waiting, fresh);
    CHECK(g.cap(h) == 2);
  }
}

namespace {

// A host capped at 8 (16 sent, 8 served 40 rounds, the other 8 moved), whose
// served connections then fall idle; the 8 moved ones are re-sent on new
// connections (ids 500..507) and, after them, the server answers one request
// on a connection opened later (id 600: stamps are not accept order) and 2
// on served ones: fewer than the stuck count asks for. Returns the time of
// the last answer.
host_gate::clock::time_point capped_then_idle(host_gate& g, host_gate::clock::time_point t0) {
  serve_rounds(g, t0, 16, 8, 40);
  REQUIRE(g.stuck(t0 + 51ms, fresh).size() == 8);
  REQUIRE(g.cap(h) == 8);
  for (uintptr_t id = 1312; id < 1320; ++id) // serve_rounds' last round
    g.ended(h, id, t0 + 52ms, true, std::nullopt);
  for (uintptr_t id = 500; id < 508; ++id)
    g.sent(h, id, t0 + 53ms);
  auto last = t0 + 54ms;
  g.sent(h, 600, last);
  g.ended(h, 600, last, true, fresh(600));
  answer_pooled(g, 3000, 3002, last);
  return last;
}

} // namespace

TEST_CASE("host_gate: at the end of a run, a capped host's requests left on unserved connections are stuck once it is quiet") {
  host_gate g; // bar 50 ms (p95 1 ms)
  auto t0 = host_gate::clock::time_point{} + 1s;
  auto last = capped_then_idle(g, t0);
  // Within the bar of the last answer: nothing.
  CHECK(g.stuck(last + 50ms, fresh).empty());
  // Past it: the eight got no answer while others did, nothing is served,
  // and 600's later stamp does not hide them.
  auto s = g.stuck(last + 51ms, fresh);
  std::sort(s.begin(), s.end());
  CHECK(s == std::vector<uintptr_t>{500, 501, 502, 503, 504, 505, 506, 507});
  // Nothing served is no measure of the server's threads: the cap stays.
  CHECK(g.cap(h) == 8);
  // Moved, they go out again; with no answer after them they are not moved
  // again, however long they wait (a server that stopped answering).
  for (uintptr_t id = 500; id < 508; ++id)
    g.sent(h, id, last + 60ms);
  CHECK(g.stuck(last + 10s, fresh).empty());
}

TEST_CASE("host_gate: a quiet capped host with a request on a served connection: nothing is stuck before the count") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  auto last = capped_then_idle(g, t0);
  // A long generation on a pooled connection: the server is busy with us.
  g.sent(h, 2000, last + 1ms);
  CHECK(g.stuck(last + 10s, fresh).empty());
}

TEST_CASE("host_gate: a quiet move right after the cap was set does not count as a finding") {
  host_gate g; // bar 50 ms
  auto t0 = host_gate::clock::time_point{} + 1s;
  serve_rounds(g, t0, 16, 8, 40);
  g.ended(h, 1319, t0 + 44ms, true, std::nullopt);
  for (uintptr_t id = 500; id < 508; ++id) // 7 answers after them: < 8
    g.sent(h, id, t0 + 45ms);
  for (uintptr_t id = 1312; id < 1319; ++id) // serve_rounds' last round
    g.ended(h, id, t0 + 50ms, true, std::nullopt);
  REQUIRE(g.stuck(t0 + 51ms, fresh).size() == 8); // 9..16, by the count
  REQUIRE(g.cap(h) == 8);
  // Within a bar of the cap, the host goes quiet: 500..507 are moved, and
  // nothing on the wire says the server serves fewer than 8.
  auto s = g.stuck(t0 + 100ms + 500us, fresh);
  CHECK(s.size() == 8);
  CHECK(g.cap(h) == 8);
}

TEST_CASE("host_gate: a host never capped: requests all unanswered past the bar are hangs, not moved") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  // 8 on new connections; 1 and 2 answer and carry 4 more (6 answers after
  // the others: fewer than the count); then nothing answers.
  two_of_n_answer(g, t0, 8);
  answer_pooled(g, 1000, 1004, t0 + 2ms);
  CHECK(g.stuck(t0 + 10s, fresh).empty());
  CHECK(g.cap(h) == host_gate::unlimited);
}

TEST_CASE("host_gate: a stuck request long after the cap was set does not lower it") {
  host_gate g; // bar 50 ms (p95 1 ms)
  auto t0 = host_gate::clock::time_point{} + 1s;
  auto t = serve_rounds(g, t0, 32, 8, 40);
  REQUIRE(g.stuck(t0 + 51ms, fresh).size() == 24);
  REQUIRE(g.cap(h) == 8);
  // Much later a served connection closes (its 100th answer) while 3 of
  // the 7 others are between requests; the replacement of the closed one
  // goes on a new connection the server reaches only after its backlog.
  auto later_t = t + 10s;
  for (uintptr_t id = 1312; id < 1320; ++id) // serve_rounds' last round
    g.ended(h, id, t + 1ms, true, std::nullopt);
  REQUIRE(g.on_wire(h) == 0);
  for (uintptr_t id = 3000; id < 3004; ++id)
    g.sent(h, id, later_t); // pooled, served
  g.sent(h, 500, later_t + 1us); // new connection, queued
  for (uintptr_t id = 4000; id < 4040; ++id) { // the served ones go round
    g.sent(h, id, later_t + 1ms);
    g.ended(h, id, later_t + 1ms, true, std::nullopt);
  }
  auto s = g.stuck(later_t + 60ms, fresh);
  REQUIRE(s == std::vector<uintptr_t>{500});
  // Moved; the server still has its 8 threads.
  CHECK(g.cap(h) == 8);
}

TEST_CASE("host_gate: a capped host's slots are each group's served connections; calls go where there is room") {
  host_gate g; // bar 50 ms (p95 1 ms)
  auto t0 = host_gate::clock::time_point{} + 1s;
  // Two loops open 8 connections each; the server serves the first 8 it
  // accepted, 5 of group 0's (ids 1..5) and 3 of group 1's (6..8), and
  // leaves the others queued (group 0's 9..11, group 1's 12..16).
  std::vector<uintptr_t> served0{1, 2, 3, 4, 5}, served1{6, 7, 8};
  for (uintptr_t id = 1; id <= 16; ++id) {
    unsigned grp = id <= 5 || (id >= 9 && id <= 11) ? 0 : 1;
    g.sent(h, id, t0 + std::chrono::microseconds(id), grp);
  }
  // The served ones go round 10 times, each answer followed by the next
  // request on that connection (pooled ids from 1000).
  uintptr_t next = 1000;
  for (int r = 0; r < 10; ++r)
    for (auto* list : {&served0, &served1})
      for (auto& x : *list) {
        g.ended(h, x, t0 + std::chrono::milliseconds(1 + r), true, fresh(x));
        x = next++;
        g.sent(h, x, t0 + std::chrono::milliseconds(1 + r), list == &served0 ? 0u : 1u);
      }
  auto now = t0 + 60ms;
  auto s0 = g.stuck(now, fresh, 0);
  auto s1 = g.stuck(now, fresh, 1);
  CHECK(s0.size() == 3);
  CHECK(s1.size() == 5);
  CHECK(g.cap(h) == 8);
  // Each group may send as many as its own served connections carry.
  CHECK_FALSE(g.may_send(h, later, 0));
  CHECK_FALSE(g.may_send(h, later, 1));
  CHECK(g.home_group(h, 0) == -1); // both full: wait at home
  CHECK(g.home_group(h, 1) == -1);
  // Group 1's connection answers and is idle: group 1 may send, and a call
  // of group 0 (full) goes to group 1.
  g.ended(h, served1[0], now + 1ms, true, std::nullopt);
  CHECK(g.may_send(h, later, 1));
  CHECK_FALSE(g.may_send(h, later, 0));
  size_t room = 0;
  CHECK(g.home_group(h, 0, &room) == 1);
  CHECK(room == 1); // one of group 0's waiting calls, not its whole queue
  CHECK(g.home_group(h, 1) == -1);
}

TEST_CASE("host_gate: a group none of whose connections the server serves sends nothing and hands its calls on") {
  host_gate g;
  auto t0 = host_gate::clock::time_point{} + 1s;
  send_fresh(g, t0, 1, 4);
  send_fresh(g, t0, 5, 8, 1);
  for (uintptr_t id = 1; id <= 4; ++id)
    g.ended(h, id, t0 + 1ms, true, fresh(id));
  for (uintptr_t id = 1000; id < 1040; ++id) {
    g.sent(h, id, t0 + 2ms, 0);
    g.ended(h, id, t0 + 2ms, true, std::nullopt);
  }
  for (uintptr_t id = 2000; id < 2004; ++id)
    g.sent(h, id, t0 + 3ms, 0);
  REQUIRE(g.stuck(t0 + 10s, fresh, 1).size() == 4);
  REQUIRE(g.cap(h) == 4);
  CHECK_FALSE(g.may_send(h, later, 1)); // no served connection of its own
  size_t room = 0;
  CHECK(g.home_group(h, 1, &room) == 0); // its calls go to group 0's,
  CHECK(room == host_gate::unlimited);    // all of them: none can go here
  CHECK(g.home_group(h, 0) == -1);
}
