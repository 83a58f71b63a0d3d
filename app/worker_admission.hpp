// Which head may use a worker node, and what it may have posted: the
// worker's token check, its one-head-at-a-time lease, its limits on work
// items, and the rate limit on its "refused head" log lines. Plain logic, no
// CAF: the worker actor (app/worker.cpp) asks these classes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "messages/work.hpp"

namespace evo {

using steady_time = std::chrono::steady_clock::time_point;

/// True when both strings are equal; the time taken depends only on their
/// lengths, not on where they differ.
bool token_equal(const std::string& a, const std::string& b);

/// True for 127.0.0.0/8, ::1 and localhost: only local users can connect.
bool is_loopback_host(const std::string& host);

struct admission_config {
  uint32_t protocol_version = cluster_protocol_version;
  std::string worker; ///< this worker's name, in messages
  std::string model;  ///< models.default it serves
  std::string token;  ///< empty = none required
  std::chrono::milliseconds dead_after{15000}; ///< lease lapses without heartbeat
};

/// A head asking to join: its worker_join plus the node it connects from.
struct join_request {
  uint32_t protocol_version = 0;
  std::string model, head, token;
  std::string peer; ///< the head's node (CAF node id as text)
};

struct admission {
  bool accepted = false;
  std::string reason; ///< refusal text sent to the head (empty if accepted)
  std::string kind;   ///< version | token | model | busy (for the log limit)
  uint64_t lease = 0;
};

/// One head at a time holds a lease; it keeps it while it sends heartbeats
/// and its connection lives. The same head (same name and node) may join
/// again, e.g. after a network split, and gets a fresh lease.
class head_admission {
public:
  explicit head_admission(admission_config cfg);

  /// Decides a join. Checks, in order: protocol version, token, model (only
  /// named to a head that proved the token), busy.
  admission join(const join_request& r, steady_time now);
  /// A heartbeat under `lease`: true (and the lease is renewed) when it is
  /// the current one.
  bool heartbeat(uint64_t lease, steady_time now);
  /// True when `lease` is current and `peer` holds it.
  bool holds(uint64_t lease, const std::string& peer) const;
  /// The holder's connection or actor is gone: the lease ends.
  void release_peer(const std::string& peer);
  /// Ends a lease without heartbeat for dead_after; answers the head name
  /// whose lease lapsed, if any.
  std::optional<std::string> expire(steady_time now);
  /// Name of the head holding the lease, if any.
  std::optional<std::string> holder() const;

private:
  admission_config cfg_;
  uint64_t next_lease_ = 1;
  struct lease_t {
    uint64_t id;
    std::string head, peer;
    steady_time last_seen;
  };
  std::optional<lease_t> lease_;
};

/// Limits a worker applies to what it posts with its own API key.
struct item_limits {
  std::string model;    ///< the body's "model" must be this one
  int max_n = 1;        ///< "n" at most this (absent = 1)
  int max_tokens = 16;  ///< "max_tokens" at most this (absent = allowed)
};

/// Empty when the worker may post this item; else why not (for the head).
std::string check_item(const item_limits& lim, endpoint_kind endpoint,
                       const std::string& body);

/// "refusing head H: reason" lines: the first of each (head, reason kind)
/// pair, then at most one a minute for that pair, saying how many were not
/// logged in between.
class refusal_log {
public:
  explicit refusal_log(std::chrono::seconds every = std::chrono::seconds(60))
    : every_(every) {
  }
  /// Whether to log this refusal now; `suppressed` gets the number of
  /// refusals of the same pair not logged since the last line.
  bool should_log(const std::string& head, const std::string& kind,
                  steady_time now, uint64_t& suppressed);

private:
  std::chrono::seconds every_;
  struct entry {
    steady_time last;
    uint64_t suppressed = 0;
  };
  std::map<std::pair<std::string, std::string>, entry> seen_;
};

} // namespace evo
