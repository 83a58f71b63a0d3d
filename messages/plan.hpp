// What a run is asked to do: jobs of identical requests, and the knobs of
// dispatch. Plain structs; the coordinator takes one at spawn.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "messages/work.hpp"

namespace evo {

/// One job of a run: `requests` work items that all send `body`.
struct job_spec {
  std::string name; ///< shown in logs and the report ("fim", "l2r", ...)
  std::string mode; ///< "fim" or "l2r"
  endpoint_kind endpoint = endpoint_kind::completions;
  std::string body;
  uint64_t requests = 0;
};

struct run_plan {
  std::vector<job_spec> jobs;
  int max_retries = 3;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{60000};
  size_t max_in_flight = 10;
  std::chrono::milliseconds progress_interval{0}; ///< 0 = no progress log
};

} // namespace evo
