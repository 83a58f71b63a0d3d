// Actor shell of the coordinator: feeds the scheduler's picks to idle
// request actors once the rate limiter granted a token, turns results into
// retries (retry_policy) or writes, tracks request actors joining and dying,
// and answers the run when every job is finished. The scheduling itself is
// in scheduler.hpp.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <unordered_set>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/coordinator/n_split.hpp"
#include "actors/coordinator/node_limits.hpp"
#include "actors/coordinator/progress.hpp"
#include "actors/coordinator/retry_policy.hpp"
#include "actors/coordinator/scheduler.hpp"
#include "actors/rate_limiter/token_budget.hpp"
#include "messages/interfaces.hpp"
#include "messages/plan.hpp"
#include "messages/stats.hpp"

namespace evo {

/// The coordinator's own handle: the public interface and the messages it
/// sends itself.
using coordinator_impl = coordinator_actor::extend<
  // A backed-off work item (job, index, attempt, n of the part) is due
  // again.
  caf::reacts_to<retry_atom, uint32_t, uint64_t, uint32_t, uint32_t>,
  // Time for the next progress output.
  caf::reacts_to<tick_atom>,
  // The grace period without any request actor is over (its generation
  // number says which one).
  caf::reacts_to<grace_atom, uint64_t>>;

/// Spawns one local request actor.
using request_factory = std::function<request_actor()>;

struct coordinator_state {
  static inline const char* name = "coordinator";

  using item = scheduler::item;

  explicit coordinator_state(coordinator_impl::pointer self);

  coordinator_impl::pointer self;
  run_plan plan;
  std::optional<scheduler> sched;
  std::optional<retry_policy> retries;
  /// Splits requests when the server refuses or caps n.
  std::optional<n_splitter> nsplit;
  uint32_t logged_max_n = 0; ///< the cap last announced in the log
  /// The nodes (the head's pool, each worker) with what they have in
  /// flight and, when plan.adaptive, each its own limit; their sum sets
  /// the scheduler's cap after each answer.
  std::optional<node_limits> nodes;
  std::unordered_map<caf::actor_addr, size_t> node_of; ///< actor -> node
  std::deque<request_actor> idle;
  /// Request actors with an attempt in flight, and which attempt.
  std::unordered_map<caf::actor_addr, item> busy;
  /// No request actor at all: the run waits this long for some to join.
  uint64_t grace_generation = 0;
  bool grace_armed = false;
  bool started_with_actors = false; ///< some request actor was ever there
  request_factory respawn;          ///< empty: lost actors are not replaced
  std::unordered_set<caf::actor_addr> local; ///< actors respawn may replace
  size_t respawns_left = 0;
  rate_limiter_actor limiter; ///< null = no rate limit
  token_account tokens;
  bool acquiring = false;
  /// Token budget (plan.tokens_per_minute): the reservations held with the
  /// tokens, the one each busy actor's attempt carries, and per job what a
  /// request reserves (the prompt exact once an answer reported it).
  held_reservations held;
  std::unordered_map<caf::actor_addr, held_reservations::one> reserved;
  std::vector<body_reservation> job_reserve;
  uint64_t tokens_reserved = 0;
  uint64_t tokens_used = 0;
  std::optional<token_budget> used_last_minute; ///< for the progress line
  writer_actor writer;
  /// Finished requests waiting for the writer; at most one write_batch is
  /// at the writer at a time, so under load they go in bulk.
  write_batch unwritten;
  bool writing = false;
  caf::typed_response_promise<run_summary> done;
  bool running = false;
  bool stop_asked = false;    ///< a stop arrived before the run started
  bool stopping = false;      ///< no new attempts; waiting for those in flight
  uint64_t recording = 0;     ///< failure records at the writer
  std::chrono::steady_clock::time_point started;
  progress_display display;

  double elapsed() const;
  void pump();
  void dispatch(request_actor actor, item it);
  void on_result(request_actor actor, attempt_result& r);
  /// A planned item whose parts are all back: written, or recorded as
  /// failed.
  void settle(uint32_t job, uint64_t index, n_splitter::gathered& g);
  /// Logs the server's n cap once when it was just learned (or lowered).
  void announce_n_cap();
  /// Feeds an answer to the adaptive limit of the node that ran it.
  void adapt(size_t node, const attempt_result& r);
  /// The scheduler's cap from the nodes' limits (adaptive runs).
  void apply_limits();
  void on_actor_lost(const caf::actor_addr& actor, const caf::error& err);
  /// Request actors of node `name` (lending `slots`) join the run.
  void add_pool(std::vector<request_actor> actors, const std::string& name,
                const std::string& base_url, size_t slots);
  void check_alive();
  void flush_writes();
  void check_job(uint32_t job);
  void fail(const caf::error& err);
  /// Stops dispatching (now: ends the run at once).
  void stop(bool now);
  /// Ends a stopping run once nothing is in flight or at the writer.
  void check_stopped();
  /// Answers the run with the summary so far and quits.
  void finish(bool interrupted, std::string aborted = {});
  void show_progress(bool final);
  /// What the next request reserves: the most any unfinished job needs.
  uint64_t reservation_each() const;
  /// Corrects the reservation of `actor`'s attempt with its answer's usage
  /// (a failed attempt without usage keeps its reservation).
  void settle_reservation(const caf::actor_addr& actor,
                          const attempt_result& r);
};

/// `pool` may be empty when request actors are to join later (worker
/// nodes, add_pool_atom); the run then waits plan.worker_grace for them.
/// `respawn` (may be empty) makes a new local request actor: one of `pool`
/// that dies is replaced, at most pool.size() times over the run (an actor
/// that keeps dying does not loop forever).
coordinator_impl::behavior_type
coordinator(coordinator_impl::stateful_pointer<coordinator_state> self,
            run_plan plan, std::vector<request_actor> pool,
            rate_limiter_actor limiter, writer_actor writer,
            request_factory respawn);

/// The text of an error (its message when it carries one).
std::string error_text(const caf::error& err);

} // namespace evo
