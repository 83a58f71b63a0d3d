// Per host: how many requests may be on the wire at once. Finds a server
// that serves fewer connections than the client opens (a fixed pool of HTTP
// threads taking queued connections in order, one each: llama.cpp's
// cpp-httplib layer, ASGI worker limits, proxies) by its symptom: a request
// on a connection of its own that gets no answer for much longer than its
// peers, while requests on older connections keep being answered and no
// connection opened after it has been; then caps the host at the number
// being served and names the stuck requests so the engine moves them. A
// request the server holds on a connection it serves (a hang, a long
// generation) is not stuck: its connection answered before, or a later one
// did. A ramp spreads the first burst of sends to a host over a few
// milliseconds. Requests are booked by group (the engine's I/O loop):
// evidence and cap are per host, the stuck ones a group finds are its own.
// Plain logic, no sockets, no clock, no lock of its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace evo {

class host_gate {
public:
  using clock = std::chrono::steady_clock;
  using duration = clock::duration;

  struct params {
    /// A request is stuck when older than factor x the host's recent p95 ...
    uint32_t stuck_factor = 4;
    /// ... and than this floor ...
    duration stuck_floor = std::chrono::milliseconds(50);
    /// ... while at least this many answers came after it was sent, and
    /// at least rounds x the requests being served (on the wire and not
    /// waiting like it): the server went round its connections that many
    /// times without this one (a server that holds many requests at once
    /// answers too few to look like that).
    uint32_t peers_answered = 4;
    uint32_t rounds = 8;
    /// A capped host gets one more slot after this long without a stuck
    /// request (while requests wait), so a server that gained threads is used.
    /// Sooner when the cap starves (see probe()).
    duration probe_every = std::chrono::seconds(2);
    /// A host's requests on the wire grow by at most ramp_step per
    /// ramp_every, plus one per answer: a burst of hundreds of connections
    /// at the start of a run takes the client's and the server's CPU for
    /// tens of milliseconds before the first answers are read (their
    /// latency). It costs a run at most P / ramp_step x ramp_every at its
    /// start (256 in flight: 15 ms), and nothing once answers flow.
    size_t ramp_step = 16;
    duration ramp_every = std::chrono::milliseconds(1);
    /// Answer times kept per host for the p95.
    size_t window = 64;
  };

  host_gate() = default;
  explicit host_gate(params p) : p_(p) {}

  static constexpr size_t unlimited = std::numeric_limits<size_t>::max();

  /// Whether one more request to `host` may go on the wire at `now` from
  /// `group` (a capped host: each group up to the connections of its own
  /// the server serves, so none opens a new one the server would leave
  /// queued while another group's served connections idle).
  bool may_send(const std::string& host, clock::time_point now,
                unsigned group = 0) const;
  /// Whether may_send() says no for the ramp alone: the answer changes
  /// with time (next ramp_every), not only with answers.
  bool ramping(const std::string& host, clock::time_point now) const;
  /// Request `id` of `group` went on the wire to `host` at `now`.
  void sent(const std::string& host, uintptr_t id, clock::time_point now,
            unsigned group = 0);
  /// Request `id` ended at `now`; `answered` when the server answered (a
  /// connect failure or a timeout says nothing about the server's threads);
  /// `opened`: when the connection it went on was opened for it (nullopt:
  /// a pooled connection).
  void ended(const std::string& host, uintptr_t id, clock::time_point now,
             bool answered, std::optional<clock::time_point> opened);
  /// The requests stuck at `now`, on any host; `opened(id)` says when the
  /// connection of a request was opened for it (nullopt: a pooled one, or
  /// not known yet), and only those can be stuck. Each
  /// host with some is capped at the number of its requests not stuck. The
  /// ids leave the books: the caller takes them off the wire and sends them
  /// again (sent() again).
  template <class Opened>
  std::vector<uintptr_t> stuck(clock::time_point now, Opened&& opened,
                               unsigned group = 0) {
    std::vector<uintptr_t> out;
    for (auto& [name, h] : hosts_)
      find_stuck(h, now, opened, group, out);
    return out;
  }
  /// The group that had the host's latest answer (its connections are
  /// served), -1 when none yet.
  int answering_group(const std::string& host) const;
  /// Where `own`'s next call for a capped host should go: -1 to stay (it
  /// has room, or served connections of its own to wait for, or the host
  /// is not capped), else the group with the most room (or, when none has
  /// room and `own` has no served connection, the one with the most).
  /// `room_there`: how many may go there now (unlimited when `own` can
  /// send none at all).
  int home_group(const std::string& host, unsigned own,
                 size_t* room_there = nullptr) const;
  /// Raises the cap of each capped host that has requests `waiting` and
  /// whose cap binds (as many on the wire) by one when it has gone
  /// probe_every without a stuck request, or at once when the cap starves:
  /// every request on the wire went on a connection opened for it that the
  /// server has not served (`opened` as for stuck()), has waited past the
  /// stuck bar, and no answer came within it. Then nothing can answer, so
  /// nothing is ever found stuck (a cap set while the served connections
  /// were between requests, its slots then taken by new connections): only
  /// a send on a served connection moves things. At most one raise per bar.
  /// `opened` is asked about `group`'s requests only; another group's count
  /// by their age alone.
  template <class Opened>
  void probe(clock::time_point now,
             const std::unordered_map<std::string, size_t>& waiting,
             Opened&& opened, unsigned group = 0) {
    for (auto& [name, h] : hosts_) {
      if (!is_capped(h) || on_wire(h, group) < group_cap(h, group))
        continue;
      auto w = waiting.find(name);
      if (w == waiting.end() || w->second == 0)
        continue;
      if (now - h.last_change >= p_.probe_every || starved(h, now, opened, group)) {
        if (h.group_cap.size() <= group)
          h.group_cap.resize(group + 1, 0);
        ++h.group_cap[group];
        h.last_change = now;
      }
    }
  }
  /// probe() for hosts whose requests all went on pooled connections.
  void probe(clock::time_point now,
             const std::unordered_map<std::string, size_t>& waiting) {
    probe(now, waiting,
          [](uintptr_t) { return std::optional<clock::time_point>{}; });
  }

  size_t cap(const std::string& host) const;
  size_t on_wire(const std::string& host) const;

private:
  struct entry {
    uintptr_t id;
    clock::time_point at;
    uint64_t answers_before; ///< the host's answer count when it was sent
    unsigned group;
  };
  struct host_state {
    std::vector<entry> wire;
    std::vector<duration> times; ///< ring of recent answer times
    size_t next_time = 0;
    uint64_t answers = 0;
    std::vector<size_t> group_cap; ///< by group; empty: not capped (cap() is the sum)
    clock::time_point capped_at{}; ///< when the cap was first set
    clock::time_point last_change{};
    clock::time_point last_answer{};
    /// The newest connection opened for a request that was answered: one
    /// opened later than a waiting one was served first, so the server
    /// does not serve connections in order of arrival.
    clock::time_point newest_fresh_answered{};
    int last_answer_group = -1;
    clock::time_point first_sent{}; ///< the ramp's start
  };
  duration p95(const host_state& h) const;
  static size_t on_wire(const host_state& h, unsigned group);
  static bool is_capped(const host_state& h) { return !h.group_cap.empty(); }
  static size_t group_cap(const host_state& h, unsigned group) {
    return group < h.group_cap.size() ? h.group_cap[group] : 0;
  }
  size_t ramp(const host_state& h, clock::time_point now) const;
  duration limit(const host_state& h) const;
  template <class Opened>
  void find_stuck(host_state& h, clock::time_point now, Opened& opened,
                  unsigned group, std::vector<uintptr_t>& out) {
    if (h.answers < p_.peers_answered || h.wire.empty())
      return;
    auto bar = limit(h);
    // Candidates by age, order and connection; the others are being served.
    auto candidate = [&](const entry& e) {
      if (e.group != group || now - e.at <= bar)
        return false;
      auto o = opened(e.id);
      return o && *o > h.newest_fresh_answered;
    };
    size_t waiting = 0, own = 0;
    for (auto& e : h.wire) {
      own += e.group == group ? 1 : 0;
      waiting += candidate(e) ? 1 : 0;
    }
    // The group's requests being served (none when the server serves only
    // other groups' connections: then one round is enough).
    auto served = std::max<size_t>(own - waiting, 1);
    auto need = std::max<uint64_t>(p_.peers_answered, uint64_t{p_.rounds} * served);
    // Quiet: a host already capped (it has shown that it leaves
    // connections unread) has had no answer within the bar and every
    // request on the wire has waited past it on a connection opened for
    // it, so no more answers come to make up the count (the end of a run:
    // its last requests on queued connections while the served ones
    // idle). Then a request the server answered others after is stuck
    // too, whatever the order of its connection (two loops open
    // connections at once, and the order of their stamps is not the order
    // the server accepted them in); one sent after the last answer is not
    // (a server that stopped answering gets one move per request, not one
    // per bar). A host never capped gets no such move: there, requests
    // all unanswered past the bar are hangs, held for api.timeout_s.
    bool quiet = is_capped(h)
                 && all_waited(h, now, opened, group, bar, /*fresh_only=*/false);
    if (waiting == 0 && !quiet)
      return;
    bool counted = false;
    for (size_t i = 0; i < h.wire.size();) {
      auto& e = h.wire[i];
      auto after = h.answers - e.answers_before;
      bool by_count = after >= need && candidate(e);
      if (by_count || (quiet && after > 0 && e.group == group)) {
        counted = counted || by_count;
        out.push_back(e.id);
        e = h.wire.back();
        h.wire.pop_back();
      } else {
        ++i;
      }
    }
    // The cap counts what is served; a starved host shows nothing served.
    if (counted)
      capped(h, now);
  }
  void capped(host_state& h, clock::time_point now);
  template <class Opened>
  bool starved(const host_state& h, clock::time_point now, Opened& opened,
               unsigned group) const {
    auto bar = limit(h);
    return now - h.last_change > bar
           && all_waited(h, now, opened, group, bar, /*fresh_only=*/true);
  }
  /// No answer within `bar`, and every request on the wire has waited past
  /// it: another group's by age alone, `group`'s own on a connection opened
  /// for it (`fresh_only`: opened after the newest fresh connection that was
  /// answered, i.e. behind the ones the server serves).
  template <class Opened>
  bool all_waited(const host_state& h, clock::time_point now, Opened& opened,
                  unsigned group, duration bar, bool fresh_only) const {
    if (now - h.last_answer <= bar)
      return false;
    return std::all_of(h.wire.begin(), h.wire.end(), [&](const entry& e) {
      if (now - e.at <= bar)
        return false;
      if (e.group != group)
        return true;
      auto o = opened(e.id);
      return o && (!fresh_only || *o > h.newest_fresh_answered);
    });
  }

  params p_;
  std::unordered_map<std::string, host_state> hosts_;
};

} // namespace evo
