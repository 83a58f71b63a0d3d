// Everything a run shows while it goes on: how (a terminal, a log, nothing),
// the line per job, and the live redraw on a terminal. No CAF.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/plan.hpp"
#include "messages/stats.hpp"

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
  uint64_t limit = 0;         ///< adaptive in-flight limit; 0 = fixed
  std::string nodes; ///< per node "name in_flight/limit" (adaptive, > 1 node)
  uint64_t retries = 0;
  double requests_per_s = 0;
  double kept_per_s = 0;
  bool done = false;
  /// Token budget: tokens used in the last minute, of tpm_budget (0 = none).
  uint64_t tpm_used = 0;
  uint64_t tpm_budget = 0;
};

/// "fim_hot   12/20 req  kept 80  dup 3  fail 0  inflight 4  5.1 req/s  ETA 2s"
std::string render_progress(const progress_row& row);

/// Seconds left, or a negative number when unknown.
double eta_seconds(const progress_row& row);

/// How a run shows progress: nothing when quiet, live lines redrawn twice
/// a second on a terminal, a log line per job every 2 s in a pipe or file.
void configure_progress(run_plan& plan, bool quiet);

/// Shows the rows the way the plan asked: redrawn in place on a terminal
/// (stderr), a log line per job otherwise, nothing when quiet.
class progress_display {
public:
  explicit progress_display(progress_mode mode = progress_mode::none)
    : mode_(mode) {
  }
  /// `final`: the run is over (a log shows nothing more; a tty redraws).
  void show(const std::vector<progress_row>& rows, bool final);
  /// Logs that a job finished (log mode only).
  void job_finished(const job_stats& s) const;

private:
  progress_mode mode_;
  size_t tty_lines_ = 0; ///< status lines drawn last time
};

} // namespace evo
