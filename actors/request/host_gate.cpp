// Per-host cap on requests on the wire, learnt from stuck requests.
#include "actors/request/host_gate.hpp"

#include <algorithm>
#include <numeric>

namespace evo {

bool host_gate::may_send(const std::string& host, clock::time_point now,
                         unsigned group) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end())
    return true;
  auto& h = it->second;
  if (is_capped(h) && on_wire(h, group) >= group_cap(h, group))
    return false;
  return h.wire.size() < ramp(h, now);
}

size_t host_gate::on_wire(const host_state& h, unsigned group) {
  return static_cast<size_t>(std::count_if(
    h.wire.begin(), h.wire.end(), [group](const entry& e) { return e.group == group; }));
}

int host_gate::home_group(const std::string& host, unsigned own,
                          size_t* room_there) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || !is_capped(it->second))
    return -1;
  auto& h = it->second;
  auto room = [&](unsigned g) {
    auto c = group_cap(h, g), w = on_wire(h, g);
    return c > w ? c - w : 0;
  };
  if (room(own) > 0)
    return -1;
  int best = -1;
  size_t most = 0;
  for (unsigned g = 0; g < h.group_cap.size(); ++g)
    if (room(g) > most) {
      most = room(g);
      best = static_cast<int>(g);
    }
  if (room_there != nullptr)
    *room_there = most;
  if (best >= 0 || group_cap(h, own) > 0)
    return best;
  for (unsigned g = 0; g < h.group_cap.size(); ++g)
    if (h.group_cap[g] > most) {
      most = h.group_cap[g];
      best = static_cast<int>(g);
    }
  if (room_there != nullptr)
    *room_there = unlimited; // nothing can be sent from `own`
  return best;
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
  // Each group's requests on the wire are its served connections.
  std::vector<size_t> served;
  for (auto& e : h.wire) {
    if (served.size() <= e.group)
      served.resize(e.group + 1, 0);
    ++served[e.group];
  }
  if (h.wire.empty()) {
    // Nothing served just now: at least one, where the last answer came.
    auto g = static_cast<size_t>(std::max(h.last_answer_group, 0));
    served.assign(g + 1, 0);
    served[g] = 1;
  }
  if (!is_capped(h)) {
    h.group_cap = served;
    h.capped_at = now;
  } else if (now - h.capped_at <= limit(h)) {
    h.group_cap.resize(std::max(h.group_cap.size(), served.size()), 0);
    for (size_t g = 0; g < h.group_cap.size(); ++g)
      h.group_cap[g] = std::min(h.group_cap[g], g < served.size() ? served[g] : 0);
    if (std::all_of(h.group_cap.begin(), h.group_cap.end(),
                    [](size_t c) { return c == 0; }))
      h.group_cap = served; // never below one in all
  }
  h.last_change = now;
}

size_t host_gate::cap(const std::string& host) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || !is_capped(it->second))
    return unlimited;
  return std::accumulate(it->second.group_cap.begin(), it->second.group_cap.end(), size_t{0});
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
