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
// did. Plain logic, no sockets, no clock of its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
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
    /// at least rounds x the requests on the wire: the server went round
    /// its connections several times without this one (a server that holds
    /// many requests at once answers too few to look like that).
    uint32_t peers_answered = 4;
    uint32_t rounds = 4;
    /// A capped host gets one more slot after this long without a stuck
    /// request (while requests wait), so a server that gained threads is used.
    duration probe_every = std::chrono::seconds(2);
    /// Answer times kept per host for the p95.
    size_t window = 64;
  };

  host_gate() = default;
  explicit host_gate(params p) : p_(p) {}

  static constexpr size_t unlimited = std::numeric_limits<size_t>::max();

  /// Whether one more request to `host` may go on the wire now.
  bool may_send(const std::string& host) const;
  /// Request `id` went on the wire to `host` at `now`.
  void sent(const std::string& host, uintptr_t id, clock::time_point now);
  /// Request `id` ended at `now`; `answered` when the server answered (a
  /// connect failure or a timeout says nothing about the server's threads);
  /// `fresh` when it went on a connection opened for it.
  void ended(const std::string& host, uintptr_t id, clock::time_point now,
             bool answered, bool fresh);
  /// The requests stuck at `now`, on any host; `fresh(id)` says whether a
  /// request is on a connection opened for it (only those can be). Each
  /// host with some is capped at the number of its requests not stuck. The
  /// ids leave the books: the caller takes them off the wire and sends them
  /// again (sent() again).
  template <class Fresh>
  std::vector<uintptr_t> stuck(clock::time_point now, Fresh&& fresh) {
    std::vector<uintptr_t> out;
    for (auto& [name, h] : hosts_)
      find_stuck(h, now, fresh, out);
    return out;
  }
  /// Raises the cap of each capped host that has requests `waiting` and has
  /// gone probe_every without a stuck request.
  void probe(clock::time_point now,
             const std::unordered_map<std::string, size_t>& waiting);

  size_t cap(const std::string& host) const;
  size_t on_wire(const std::string& host) const;

private:
  struct entry {
    uintptr_t id;
    clock::time_point at;
    uint64_t answers_before; ///< the host's answer count when it was sent
  };
  struct host_state {
    std::vector<entry> wire;
    std::vector<duration> times; ///< ring of recent answer times
    size_t next_time = 0;
    uint64_t answers = 0;
    size_t cap = unlimited;
    clock::time_point last_change{};
    /// When the newest request on a connection of its own that was
    /// answered was sent: a connection opened later than a waiting one was
    /// served first, so the server does not serve in order of arrival.
    clock::time_point newest_fresh_answered{};
  };
  duration p95(const host_state& h) const;
  duration limit(const host_state& h) const;
  template <class Fresh>
  void find_stuck(host_state& h, clock::time_point now, Fresh& fresh,
                  std::vector<uintptr_t>& out) {
    if (h.answers < p_.peers_answered || h.wire.empty())
      return;
    auto bar = limit(h);
    auto need = std::max<uint64_t>(p_.peers_answered,
                                   uint64_t{p_.rounds} * h.wire.size());
    auto before = out.size();
    for (size_t i = 0; i < h.wire.size();) {
      auto& e = h.wire[i];
      if (now - e.at > bar && h.answers - e.answers_before >= need
          && e.at > h.newest_fresh_answered && fresh(e.id)) {
        out.push_back(e.id);
        e = h.wire.back();
        h.wire.pop_back();
      } else {
        ++i;
      }
    }
    if (out.size() > before)
      capped(h, now);
  }
  void capped(host_state& h, clock::time_point now);

  params p_;
  std::unordered_map<std::string, host_state> hosts_;
};

} // namespace evo
