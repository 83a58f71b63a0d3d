// Progress lines of a running job, for a terminal or a log. No CAF.
#pragma once

#include <cstdint>
#include <string>

namespace evo {

struct progress_row {
  std::string name;
  uint64_t finished = 0;      ///< items written or failed (this run)
  uint64_t total = 0;         ///< num_batches jobs: items; target jobs: 0
  uint64_t failed = 0;
  uint64_t kept = 0;          ///< names kept, earlier runs included
  uint64_t target_unique = 0; ///< 0 = a num_batches job
  uint64_t duplicates = 0;
  uint64_t in_flight = 0;
  uint64_t retries = 0;
  double requests_per_s = 0;
  double kept_per_s = 0;
  bool done = false;
};

/// "fim_hot   12/20 req  kept 80  dup 3  fail 0  inflight 4  5.1 req/s  ETA 2s"
std::string render_progress(const progress_row& row);

/// Seconds left, or a negative number when unknown.
double eta_seconds(const progress_row& row);

} // namespace evo
