// `evoselfcode worker`: a node that lends a pool of request actors (and its
// model server) to one head at a time over CAF's middleman.
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
  /// Limits on what a head may have posted (default: namegen.n and
  /// namegen.max_new_tokens of the config).
  std::optional<int> max_n, max_tokens;
  /// Listen on a non-loopback address without TLS (logged as a warning).
  bool insecure = false;
  /// Only for tests of the version check: pretend to speak another version.
  uint32_t protocol_version = 0;
  bool verbose = false;
};

/// Serves until SIGINT or SIGTERM, then lets attempts in flight finish (up
/// to api.timeout_s + 5 s) while refusing new ones. Exit status 0, or 2 for
/// a bad command line or config (or a network address without TLS), 1 when
/// it cannot listen.
int run_worker(const worker_options& opts);

} // namespace evo
