// Which work item goes out next, and the counts that decide when a run is
// over: due retries first, then fresh items round-robin over the jobs, target
// jobs paced by the names still missing, resumed items skipped, the in-flight
// cap, jobs stopped by saturation (stop_when). Plain class, no CAF: the
// coordinator actor feeds it events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "actors/coordinator/latency_histogram.hpp"
#include "actors/coordinator/new_rate_window.hpp"
#include "actors/coordinator/progress.hpp"
#include "actors/coordinator/run_series.hpp"
#include "messages/plan.hpp"
#include "messages/stats.hpp"

namespace evo {

class scheduler {
public:
  /// One attempt of one work item.
  struct item {
    uint32_t job = 0;
    uint64_t index = 0;
    uint32_t attempt = 0;
    uint32_t n = 0; ///< choices this part asks for; 0 = the job's own n
  };

  /// A job while the run goes on.
  struct job_run {
    job_spec spec;
    job_stats stats;
    uint64_t next_index = 0;    ///< next fresh index to consider
    size_t skip_pos = 0;        ///< cursor in spec.finished_before
    uint64_t resumed_in_plan = 0; ///< finished_before entries < ceiling()
    uint64_t outstanding = 0;   ///< issued, not yet written or failed
    uint64_t in_flight = 0;     ///< at a request actor right now
    latency_histogram latencies;
    new_rate_window recent;      ///< spec.stop_when's window
    bool saturated = false;      ///< stop_when fired: no fresh items
    bounded_curve discovery; ///< (choices, kept) after each write
    time_bins bins;          ///< attempts back, in flight, retries
    bool finished = false;

    uint64_t kept_total() const { return spec.kept_before + stats.kept; }
    /// Items of the plan this run has to finish (num_batches jobs).
    uint64_t planned() const { return spec.requests - resumed_in_plan; }
    /// Advances past resumed items; true when a fresh item may be issued.
    bool fresh_available();
    /// True when nothing is outstanding and no fresh item may be issued.
    bool complete();
  };

  /// `max_in_flight`: attempts at request actors at once, at most
  /// (api_config::max_in_flight() for a local run).
  scheduler(std::vector<job_spec> jobs, size_t max_in_flight);

  /// A due retry, or a fresh item of a job that may issue one.
  bool has_work();
  /// Seconds since the start of the run, for the time series (default: 0).
  void set_clock(std::function<double()> clock) { clock_ = std::move(clock); }

  /// Due retries first (oldest first), then fresh items round-robin over
  /// the jobs that may issue one, so that no job starves.
  std::optional<item> next();
  /// How many attempts may go out now with `idle` request actors free.
  size_t room(size_t idle) const;

  /// The attempt went to a request actor.
  void sent(const item& it);
  /// The attempt came back (success or failure); `sends` > 1 when libcurl
  /// re-sent it on its own (each send counts as a transport retry).
  void returned(const item& it, uint32_t sends, uint64_t latency_us);
  /// The request actor died with the attempt: it goes again, first.
  void lost(const item& it);
  /// A backed-off retry is due again (after the newest already due).
  void retry_due(const item& it);
  /// A failed attempt will be retried (counted by kind).
  void retrying(uint32_t job, failure_kind kind);

  /// The writer wrote the item's choices (then: check_job). True when the
  /// job's stop_when rule fired with them: it issues no fresh item again.
  bool written(uint32_t job, const write_stats& ws);
  /// The item is recorded as failed for good (then: check_job).
  void failed(uint32_t job);
  /// Marks a complete job finished at `wall_s` (stopped_by: saturation,
  /// target or budget); true when it finished now (jobs finished by an
  /// earlier run finish at the start).
  bool check_job(uint32_t job, double wall_s = 0);

  bool all_finished() const { return jobs_left_ == 0; }
  size_t in_flight() const { return in_flight_; }
  size_t max_in_flight() const { return max_in_flight_; }
  /// The adaptive limit moved the cap (attempts above it finish as usual).
  void set_max_in_flight(size_t n) { max_in_flight_ = n; }
  const std::vector<job_run>& jobs() const { return jobs_; }
  job_run& job(uint32_t j) { return jobs_[j]; }

  /// Per-job statistics as a run_summary (`wall_s`: the run's time so far).
  /// A job not finished has stopped_by "" (the caller says why the run
  /// ended).
  run_summary summary(double wall_s) const;
  /// One progress row per job (`elapsed`: the run's time so far).
  std::vector<progress_row> progress(double elapsed) const;

private:
  std::vector<job_run> jobs_;
  std::deque<item> due_;
  size_t next_job_ = 0; ///< round-robin cursor over jobs for fresh items
  size_t in_flight_ = 0;
  size_t max_in_flight_;
  size_t jobs_left_;
  std::function<double()> clock_;

  double now() const { return clock_ ? clock_() : 0.0; }
};

/// Tokens of the rate limiter the coordinator holds, and the sends libcurl
/// made on its own that still have to be paid for.
struct token_account {
  uint32_t tokens = 0;
  uint64_t debt = 0;

  /// Pays the debt from the tokens held; true when a token is left to take.
  bool pay_and_check();
  /// How many tokens to ask for when `room` attempts could go out.
  uint32_t want(size_t room) const;
};

} // namespace evo
