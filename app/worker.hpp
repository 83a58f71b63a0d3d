// `evoselfcode worker`: a node that lends a pool of request actors (and its
// model server) to a head over CAF's middleman.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace evo {

struct worker_options {
  std::string listen = "127.0.0.1:4242"; ///< host:port; port 0 = any free
  std::string config_path = "configs/datagen.yaml";
  std::optional<std::string> base_url;
  std::optional<int> pool;
  std::optional<std::string> tls_cert, tls_key, tls_ca;
  /// Only for tests of the version check: pretend to speak another version.
  uint32_t protocol_version = 0;
  bool verbose = false;
};

/// Serves until SIGINT or SIGTERM. Exit status 0, or 2 for a bad command
/// line or config, 1 when it cannot listen.
int run_worker(const worker_options& opts);

} // namespace evo
