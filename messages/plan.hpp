// What a run is asked to do: jobs of identical requests, and the knobs of
// dispatch. Plain structs; the coordinator takes one at spawn.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "messages/settings.hpp" // stop_rule
#include "messages/work.hpp"

namespace evo {

/// One job of a run: work items that all send `body`. Either exactly
/// `requests` items, or (target_unique > 0) items until that many names are
/// kept, at most `max_requests`.
struct job_spec {
  std::string name; ///< shown in logs and the report ("fim", "l2r", ...)
  std::string mode; ///< "fim" or "l2r"
  endpoint_kind endpoint = endpoint_kind::completions;
  std::string body;
  uint64_t requests = 0;
  uint64_t target_unique = 0;
  uint64_t max_requests = 0;
  /// Resume: items finished (written or failed) by an earlier run, sorted;
  /// they are not sent again.
  std::vector<uint64_t> finished_before;
  /// Resume: names the job's folder already holds; they count towards
  /// target_unique.
  uint64_t kept_before = 0;
  /// Saturation: stop issuing once few valid choices are new.
  stop_rule stop_when;

  bool is_target() const { return target_unique > 0; }
  /// Most items this job may ever have.
  uint64_t ceiling() const { return is_target() ? max_requests : requests; }
};

/// A job of exactly `requests` items.
inline job_spec make_job(std::string name, std::string mode,
                         endpoint_kind endpoint, std::string body,
                         uint64_t requests) {
  job_spec j;
  j.name = std::move(name);
  j.mode = std::move(mode);
  j.endpoint = endpoint;
  j.body = std::move(body);
  j.requests = requests;
  return j;
}

/// How the coordinator shows progress while a run goes on.
enum class progress_mode : uint8_t {
  none, ///< nothing (--quiet)
  log,  ///< a log line per job every interval (pipes, log files)
  tty,  ///< live status lines redrawn on stderr (a terminal)
};

struct run_plan {
  std::vector<job_spec> jobs;
  int max_retries = 3;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{60000};
  size_t max_in_flight = 10;
  /// Adaptive in-flight limit between min_in_flight and max_in_flight
  /// (actors/coordinator/concurrency_limit.hpp); off: max_in_flight fixed.
  bool adaptive = false;
  size_t min_in_flight = 1;
  /// The head's own model server (userinfo redacted): names the local
  /// pool's node in the adaptive limit's report.
  std::string base_url;
  /// How long a run without any request actor (all worker nodes gone)
  /// waits for one to join before it stops with an error.
  std::chrono::milliseconds worker_grace{30000};
  /// Whether request actors may join later (worker nodes). Without, a run
  /// that lost every request actor ends at once instead of waiting.
  bool actors_may_join = false;
  /// After a stop request: how long attempts in flight may still finish.
  std::chrono::milliseconds stop_grace{10000};
  progress_mode progress = progress_mode::none;
  std::chrono::milliseconds progress_interval{2000};
  /// api.concurrency.tokens_per_minute: requests reserve tokens at the
  /// rate limiter before they go; 0 = no token budget.
  uint64_t tokens_per_minute = 0;
};

} // namespace evo
