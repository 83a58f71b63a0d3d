// What a worker node answers a head: a lease on its request actors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/request_handle.hpp"
#include "messages/work.hpp"

namespace evo {

/// worker -> head: a lease on the request actors of one worker node. The
/// head sends work through the worker node itself (work_atom with the lease
/// and a slot number), so the worker checks every item before posting it.
struct worker_pool {
  uint32_t protocol_version = cluster_protocol_version;
  std::string worker;   ///< the worker's name (host:port) for logs
  std::string base_url; ///< its model server (userinfo redacted)
  uint64_t lease = 0;   ///< names this head's turn; heartbeats carry it
  uint32_t slots = 0;   ///< request actors lent: slots 0 .. slots-1
  /// Head-local: the head's proxy actors for those slots, as handed to the
  /// coordinator; empty on the wire.
  std::vector<request_actor> actors;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_pool& x) {
  return f(x.protocol_version, x.worker, x.base_url, x.lease, x.slots,
           x.actors);
}

} // namespace evo
