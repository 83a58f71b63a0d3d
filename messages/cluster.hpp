// What a worker node answers a head: its request actors. Crosses the
// middleman, so it holds typed actor handles (CAF types) and lives apart from the
// plain structs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/request_handle.hpp"
#include "messages/work.hpp"

namespace evo {

/// worker -> head: the request actors of one worker node.
struct worker_pool {
  uint32_t protocol_version = cluster_protocol_version;
  std::string worker;              ///< the worker's name (host:port) for logs
  std::string base_url;            ///< its model server (userinfo redacted)
  std::vector<request_actor> actors; ///< its request actors
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_pool& x) {
  return f(x.protocol_version, x.worker, x.base_url, x.actors);
}

} // namespace evo
