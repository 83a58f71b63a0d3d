// What a head and a worker node both set up: the CAF system config, the
// embedded simulator, the request-actor pool. Include only from CAF
// translation units.
#pragma once

#include <memory>
#include <vector>

#include "caf/fwd.hpp"

#include "messages/settings.hpp"
#include "messages/interfaces.hpp"
#include "actors/request/http_engine.hpp"
#include "actors/request/request_actor.hpp"

namespace evo {

namespace sim {
class sim_server;
}

/// Registers our types; loads the middleman (and TLS) for distributed runs.
void configure_system(caf::actor_system_config& cfg, bool distributed,
                      const cluster_tls_config& tls);

/// For base_url "embedded": starts the simulator on a free loopback port
/// and points api.base_url at it. Null otherwise.
std::unique_ptr<sim::sim_server> start_embedded_sim(api_config& api,
                                                    const std::string& model);

/// Where and how request actors send (URL, timeout, TLS, auth header).
request_target make_request_target(const api_config& api);

/// api.concurrency.io_threads, or when unset: one I/O thread when the own
/// HTTP/1.1 client carries the requests (a loop of it needs ~10 µs of CPU
/// per request; a second thread only adds wake-ups: C = 64 against nginx
/// 126–146 k vs 75–83 k requests/s), two for libcurl (one libcurl loop tops
/// out near a core: two gave +15 % at C = 64).
size_t io_threads_for(const api_config& api);

/// `size` request actors sharing `engine` (which must outlive them).
std::vector<request_actor> spawn_pool(caf::actor_system& sys,
                                      http_engine& engine,
                                      const request_target& target, int size);

} // namespace evo
