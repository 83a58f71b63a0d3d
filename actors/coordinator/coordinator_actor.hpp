// Actor shell of the coordinator: owns the plan of a run, hands work items to
// idle request actors once the rate limiter granted a token, decides retries
// (retry_policy), forwards choices to the writer and ends the run when every
// job is finished: all its items written or recorded as failed, or (target
// jobs) enough names kept.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/coordinator/latency_histogram.hpp"
#include "actors/coordinator/progress.hpp"
#include "actors/coordinator/retry_policy.hpp"
#include "messages/interfaces.hpp"
#include "messages/plan.hpp"
#include "messages/stats.hpp"

namespace evo {

struct coordinator_state {
  static inline const char* name = "coordinator";

  struct pending {
    uint32_t job;
    uint64_t index;
    uint32_t attempt;
  };

  struct job_run {
    job_spec spec;
    job_stats stats;
    uint64_t next_index = 0;  ///< next fresh index to consider
    size_t skip_pos = 0;      ///< cursor in spec.finished_before
    uint64_t outstanding = 0; ///< issued, not yet written or failed
    uint64_t in_flight = 0;   ///< at a request actor right now
    latency_histogram latencies;
    bool finished = false;

    uint64_t kept_total() const { return spec.kept_before + stats.kept; }
    /// Advances past resumed items; true when a fresh item may be issued.
    bool fresh_available();
    /// True when nothing is outstanding and no fresh item may be issued.
    bool complete();
  };

  explicit coordinator_state(coordinator_actor::pointer self);

  coordinator_actor::pointer self;
  run_plan plan;
  std::optional<retry_policy> retries;
  std::deque<request_actor> idle;
  /// Request actors with an attempt in flight, and which attempt.
  std::unordered_map<caf::actor_addr, pending> busy;
  /// No request actor at all: the run waits this long for some to join.
  std::chrono::milliseconds grace{0};
  uint64_t grace_generation = 0;
  bool grace_armed = false;
  bool started_with_actors = false; ///< some request actor was ever there
  std::deque<pending> due; ///< retries whose backoff elapsed, re-queued items
  std::vector<job_run> jobs;
  size_t next_job = 0; ///< round-robin cursor over jobs for fresh items
  size_t in_flight = 0;
  size_t jobs_left = 0;
  rate_limiter_actor limiter; ///< null = no rate limit
  uint32_t tokens = 0;
  uint64_t token_debt = 0; ///< libcurl's own re-sends, not yet paid
  bool acquiring = false;
  writer_actor writer;
  /// Finished requests waiting for the writer; at most one write_batch is
  /// at the writer at a time, so under load they go in bulk.
  write_batch unwritten;
  bool writing = false;
  caf::typed_response_promise<run_summary> done;
  bool running = false;
  std::chrono::steady_clock::time_point started;
  size_t tty_lines = 0; ///< status lines drawn last time (tty progress)

  bool has_work();
  std::optional<pending> next_item();
  void pump();
  void dispatch(request_actor worker, pending item);
  void on_result(request_actor worker, attempt_result& r);
  void on_worker_lost(const caf::actor_addr& worker, const caf::error& err);
  void add_pool(std::vector<request_actor> actors);
  void check_alive();
  void flush_writes();
  void finish_item(uint32_t job);
  void check_job(uint32_t job);
  void fail(const caf::error& err);
  void show_progress(bool final);
  run_summary summary() const;
};

/// `pool` may be empty when request actors are to join later (worker
/// nodes, add_pool_atom); the run then waits plan.worker_grace for them.
coordinator_actor::behavior_type
coordinator(coordinator_actor::stateful_pointer<coordinator_state> self,
            run_plan plan, std::vector<request_actor> pool,
            rate_limiter_actor limiter, writer_actor writer);

/// The text of an error (its message when it carries one).
std::string error_text(const caf::error& err);

} // namespace evo
