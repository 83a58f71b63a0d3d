// `evoselfcode datagen run`: the jobs of a manifest over one pool and one
// rate limiter, each into <out>/<job name>/, resumable through
// <out>/journal.jsonl.
#pragma once

#include <optional>
#include <string>

#include "app/generate_names.hpp" // cluster_overrides

namespace evo {

struct manifest_options {
  std::string manifest_path;
  std::optional<std::string> out_dir;
  std::optional<std::string> base_url;
  cluster_overrides cluster;
  bool resume = false;
  bool quiet = false;
  bool verbose = false;
  double stop_grace_s = 10; ///< after SIGINT/SIGTERM: in-flight may finish
};

/// Exit status as for generate-names: 0, 3 (some requests failed for good),
/// 2 (bad manifest, config or command line; nothing written), 1 (run error),
/// 130/143 (stopped by SIGINT/SIGTERM; --resume continues).
int run_manifest(const manifest_options& opts);

} // namespace evo
