// The adaptive limit per node (api.concurrency.adaptive): the head's own
// pool and each worker node get a concurrency_limit of their own, because
// their model servers differ. Counts what each node has in flight, says
// which nodes have headroom, feeds each node's answers to its own limit,
// and keeps the sum for the run's cap and report. A node whose last request
// actor is gone leaves (its limit with it); a node that joins again starts
// a fresh one. Plain class, no CAF; the caller passes the time (seconds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/coordinator/concurrency_limit.hpp"
#include "messages/stats.hpp"

namespace evo {

class node_limits {
public:
  /// `base`: floor and ceiling of the whole run (ceiling: the semaphore,
  /// else the pool; a node's own ceiling is also at most what it lends).
  /// Without `adaptive` no limit is kept and every node has headroom.
  node_limits(bool adaptive, concurrency_limit_config base);

  /// The run starts at `now`: nodes joined before get their limits.
  void start(double now);
  /// `actors` request actors of node `name` (lending `slots` in all) are
  /// there: the live node of that name, else a new one with a fresh limit.
  /// Returns the node's id.
  size_t join(const std::string& name, const std::string& base_url,
              size_t slots, size_t actors, double now);
  /// One more request actor of a live node (a local one replaced).
  void actor_added(size_t node);
  /// A request actor of `node` is gone; with its last one the node leaves
  /// (true) and its limit with it.
  bool actor_lost(size_t node, double now);

  /// An attempt may go to `node` now: it is live and, when adaptive, has
  /// fewer in flight than its limit.
  bool headroom(size_t node) const;
  /// The first of [first, last) (idle request actors, oldest first) whose
  /// node has headroom; `node_of(*it)` gives an actor's node. `last` when
  /// none has.
  template <class It, class NodeOf>
  It pick(It first, It last, NodeOf node_of) const {
    for (; first != last; ++first)
      if (headroom(node_of(*first)))
        return first;
    return last;
  }

  void sent(size_t node);
  /// The attempt came back or was lost with its actor.
  void returned(size_t node);
  /// An answer of `node`'s server (see concurrency_limit).
  void on_success(size_t node, double now, uint64_t tokens, double latency_s);
  void on_overload(size_t node, double now, double retry_after_s);
  /// A 429 or 503 of `node`'s server, after returned() for its attempt.
  void on_refused(size_t node, double now, double retry_after_s);

  bool adaptive() const { return adaptive_; }
  /// The sum of the live nodes' limits (0 when no node is live).
  size_t total_limit() const;
  size_t limit(size_t node) const;
  size_t in_flight(size_t node) const { return nodes_.at(node).in_flight; }
  bool live(size_t node) const { return nodes_.at(node).live; }
  const std::string& name(size_t node) const { return nodes_.at(node).name; }
  size_t live_nodes() const;
  /// "name in_flight/limit" per live node, for the progress line; empty
  /// unless adaptive with more than one node.
  std::string progress_text() const;

  /// The sum over the run (min, max, final, series; empty series when not
  /// adaptive or no limit ever ran) and, in `nodes`, each node's own
  /// (times since the run's start), the nodes that left included.
  concurrency_trace trace() const;

private:
  struct node {
    std::string name, base_url;
    size_t slots = 0;
    size_t actors = 0;
    size_t in_flight = 0;
    bool live = true;
    double joined = 0; ///< when its limit started (run seconds)
    double left = 0;   ///< when its last request actor went
    std::optional<concurrency_limit> limit;
  };

  void start_limit(node& n, double now);
  /// Records the sum when it changed.
  void record_total(double now);

  bool adaptive_;
  concurrency_limit_config base_;
  std::optional<double> started_;
  std::vector<node> nodes_;
  bool total_started_ = false;
  size_t total_min_ = 0, total_max_ = 0, total_last_ = 0;
  std::vector<std::pair<double, uint32_t>> total_series_;
};

} // namespace evo
