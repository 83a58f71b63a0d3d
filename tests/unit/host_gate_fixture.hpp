// host_gate's unit tests: hosts, made-up connection times and a server
// that serves some connections in rounds (test_host_gate*.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/request/host_gate.hpp"

namespace host_gate_fixture {

using evo::host_gate;
using namespace std::chrono_literals;

inline const std::string h = "http://127.0.0.1:8080";
inline const std::string other = "http://127.0.0.1:9090";
// Long after any ramp (host_gate::params::ramp_step): tests of the cap ask
// may_send() then.
inline const auto later = host_gate::clock::time_point{} + std::chrono::hours(1);

// Ids below 1000 go on connections of their own, opened in the order of the
// ids; the others on pooled ones.
inline std::optional<host_gate::clock::time_point> fresh(uintptr_t id) {
  if (id >= 1000)
    return std::nullopt;
  return host_gate::clock::time_point{} + std::chrono::microseconds(id);
}

// Ids [first, last] sent by `group` at t0 + id us, each on a connection of
// its own (fresh(id): opened in the order of the ids).
inline void send_fresh(host_gate& g, host_gate::clock::time_point t0, uintptr_t first,
                       uintptr_t last, unsigned group = 0) {
  for (uintptr_t id = first; id <= last; ++id)
    g.sent(h, id, t0 + std::chrono::microseconds(id), group);
}

// Ids 1..n sent on new connections; 1 and 2 answered at t0 + 1 ms.
inline void two_of_n_answer(host_gate& g, host_gate::clock::time_point t0, uintptr_t n) {
  send_fresh(g, t0, 1, n);
  g.ended(h, 1, t0 + 1ms, true, fresh(1));
  g.ended(h, 2, t0 + 1ms, true, fresh(2));
}

// Ids [first, last) sent and answered at `t` on pooled connections.
inline void answer_pooled(host_gate& g, uintptr_t first, uintptr_t last,
                          host_gate::clock::time_point t, unsigned group = 0) {
  for (uintptr_t id = first; id < last; ++id) {
    g.sent(h, id, t, group);
    g.ended(h, id, t, true, std::nullopt);
  }
}

// Ids 1..n sent at t0 + id us, each on a new connection; ids 1..served
// answer at t0 + 1 ms (the server serves them first), and each answer is
// followed at once by a new request on that connection (ids from 1000),
// answered 1 ms later. `rounds` rounds of that; returns the time after.
inline host_gate::clock::time_point serve_rounds(host_gate& g, host_gate::clock::time_point t0,
                                          uintptr_t n, uintptr_t served, int rounds) {
  send_fresh(g, t0, 1, n);
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

} // namespace host_gate_fixture
