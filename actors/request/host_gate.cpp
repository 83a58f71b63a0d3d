// Per-host cap on requests on the wire, learnt from stuck requests.
#include "actors/request/host_gate.hpp"

#include <algorithm>

namespace evo {

bool host_gate::may_send(const std::string& host, clock::time_point now) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end())
    return true;
  auto& h = it->second;
  return h.wire.size() < h.cap && h.wire.size() < ramp(h, now);
}

bool host_gate::ramping(const std::string& host, clock::time_point now) const {
  auto it = hosts_.find(host);
  return it != hosts_.end() && it->second.wire.size() >= ramp(it->second, now);
}

size_t host_gate::ramp(const host_state& h, clock::time_point now) const {
  if (p_.ramp_step == 0)
    return unlimited;
  auto steps = static_cast<uint64_t>((now - h.first_sent) / p_.ramp_every);
  auto r = p_.ramp_step * (1 + std::min<uint64_t>(steps, 1u << 20)) + h.answers;
  return static_cast<size_t>(r);
}

void host_gate::sent(const std::string& host, uintptr_t id,
                     clock::time_point now, unsigned group) {
  auto [it, fresh] = hosts_.try_emplace(host);
  auto& h = it->second;
  if (fresh)
    h.first_sent = now;
  h.wire.push_back({id, now, h.answers, group});
}

void host_gate::ended(const std::string& host, uintptr_t id,
                      clock::time_point now, bool answered,
                      std::optional<clock::time_point> opened) {
  auto it = hosts_.find(host);
  if (it == hosts_.end())
    return;
  auto& h = it->second;
  auto e = std::find_if(h.wire.begin(), h.wire.end(),
                        [id](const entry& x) { return x.id == id; });
  if (e == h.wire.end())
    return; // moved off the wire by stuck() before it ended
  auto took = now - e->at;
  auto group = e->group;
  *e = h.wire.back();
  h.wire.pop_back();
  if (!answered)
    return;
  ++h.answers;
  h.last_answer = now;
  h.last_answer_group = static_cast<int>(group);
  if (opened)
    h.newest_fresh_answered = std::max(h.newest_fresh_answered, *opened);
  if (h.times.size() < p_.window) {
    h.times.push_back(took);
  } else {
    h.times[h.next_time] = took;
    h.next_time = (h.next_time + 1) % p_.window;
  }
}

host_gate::duration host_gate::p95(const host_state& h) const {
  if (h.times.empty())
    return duration::zero();
  std::vector<duration> sorted = h.times;
  auto k = (sorted.size() * 95 + 99) / 100 - 1; // nearest rank
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(k),
                   sorted.end());
  return sorted[k];
}

host_gate::duration host_gate::limit(const host_state& h) const {
  return std::max(p_.stuck_floor, p95(h) * static_cast<int64_t>(p_.stuck_factor));
}

void host_gate::capped(host_state& h, clock::time_point now) {
  // The requests still in flight are the ones being served: that is how
  // many connections this server takes. Findings within a bar of the
  // first one refine it (each loop finds its own). A later one lowers
  // nothing: it is a served connection that closed (100 requests, a
  // keep-alive timeout) whose replacement queued behind the connections
  // the server has yet to read, while the threads are as many as before
  // (counted then, some being between requests, the cap fell 8, 7, 6, 4,
  // 2 in one run and a third of the throughput went).
  auto served = std::max<size_t>(h.wire.size(), 1);
  if (h.cap == unlimited) {
    h.cap = served;
    h.capped_at = now;
  } else if (now - h.capped_at <= limit(h)) {
    h.cap = std::min(h.cap, served);
  }
  h.last_change = now;
}

size_t host_gate::cap(const std::string& host) const {
  auto it = hosts_.find(host);
  return it == hosts_.end() ? unlimited : it->second.cap;
}

int host_gate::answering_group(const std::string& host) const {
  auto it = hosts_.find(host);
  return it == hosts_.end() ? -1 : it->second.last_answer_group;
}

size_t host_gate::on_wire(const std::string& host) const {
  auto it = hosts_.find(host);
  return it == hosts_.end() ? 0 : it->second.wire.size();
}

} // namespace evo
