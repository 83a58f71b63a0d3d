// Head side of a distributed run: an actor keeps a lease on each
// worker node (CAF middleman, optionally TLS), watches it with heartbeats
// and hands the running coordinator one proxy actor per lent request actor.
// A proxy gives every attempt a deadline and answers the coordinator with an
// error (the item goes back to the queue) when the deadline passes or the
// node is declared dead; a late answer is dropped. Include only from CAF
// translation units.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/fwd.hpp"

#include "messages/interfaces.hpp"
#include "messages/settings.hpp"

namespace evo {

struct cluster_link_options {
  std::vector<std::string> workers; ///< "host:port"
  std::string model;                ///< models.default of the head
  std::string token;                ///< cluster.token (never logged)
  std::string head_name;            ///< --name; empty = host:pid
  bool tls = false;
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds dead_after{15000};
  /// One remote attempt may take this long (api.timeout_s + a margin).
  std::chrono::milliseconds attempt_deadline{65000};
  /// TCP connect + CAF handshake, and the join, each get this long.
  std::chrono::milliseconds connect_deadline{10000};
  /// Pause before trying a worker again.
  std::chrono::milliseconds retry{500};
};

/// The options for `cluster` and an attempt timeout of `timeout_s`.
cluster_link_options make_link_options(const cluster_config& cluster,
                                       const std::string& model,
                                       double timeout_s);

class cluster_link {
public:
  /// Starts connecting to every worker at once. Throws std::runtime_error
  /// for an address that is not host:port.
  cluster_link(caf::actor_system& sys, cluster_link_options opts);
  ~cluster_link();
  cluster_link(const cluster_link&) = delete;
  cluster_link& operator=(const cluster_link&) = delete;

  /// Sends `coord` every pool joined so far and every pool that joins later,
  /// until detach().
  void attach(const coordinator_actor& coord);
  void detach();

  /// One line per worker that never lent its actors to this head, with the
  /// last reason (refused: busy, token, model...; cannot connect...).
  std::string diagnosis();

private:
  caf::actor_system& sys_;
  caf::actor link_;
};

/// "hostname:pid": a head's name when --name is not given.
std::string default_head_name();

} // namespace evo
