// `evoselfcode datagen generate-names`: FIM and/or L2R names from one
// datagen config, through the client, into <out>/<mode>/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "messages/settings.hpp"

namespace evo {

/// --workers / --local-pool, over the config's cluster: section.
struct cluster_overrides {
  std::vector<std::string> workers;
  std::optional<int> local_pool;
  std::string head_name; ///< --name

  void apply(cluster_config& c) const {
    if (!head_name.empty())
      c.head_name = head_name;
    if (!workers.empty())
      c.workers = workers;
    if (local_pool)
      c.local_pool = *local_pool;
  }
};

struct generate_options {
  std::string config_path = "configs/datagen.yaml";
  /// --config given: else --mode fim|l2r reads configs/datagen/<mode>.yaml
  /// when it exists (the Python tool's latest layout).
  bool config_given = false;
  std::string mode = "both"; ///< fim | l2r | both
  std::optional<std::string> out_dir;
  std::optional<std::string> base_url;
  std::optional<int> num_batches;
  std::optional<int> num_samples; ///< total choices: requests = ceil(N / n)
  std::optional<int> n;
  std::optional<int> concurrency;
  std::optional<double> rate_limit;
  cluster_overrides cluster;
  bool quiet = false;
  bool verbose = false;
  double stop_grace_s = 10; ///< after SIGINT/SIGTERM: in-flight may finish
};

class client;

/// The run's first log line:
/// "server URL, in flight at most N: pool P (where from), semaphore_size S
/// (where from)" or "K worker node(s) ..." for the start-up log.
/// `pool_source` names where the pool size came from.
std::string describe_pool(const datagen_config& cfg,
                          const std::string& pool_source
                          = "api.concurrency.max_concurrent_requests");

/// Exit status: 0 all requests succeeded, 3 some failed for good (see
/// failures.jsonl), 2 bad command line or config (nothing written),
/// 1 the run could not go on (e.g. output not writable), 130/143 stopped
/// by SIGINT/SIGTERM.
int generate_names(const generate_options& opts);

} // namespace evo
