#include "actors/coordinator/scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace evo {

// -- job_run ------------------------------------------------------------------

bool scheduler::job_run::fresh_available() {
  if (saturated)
    return false;
  auto& skip = spec.finished_before;
  while (skip_pos < skip.size() && skip[skip_pos] <= next_index) {
    if (skip[skip_pos] == next_index)
      ++next_index;
    ++skip_pos;
  }
  if (next_index >= spec.ceiling())
    return false;
  if (!spec.is_target())
    return true;
  auto kept = kept_total();
  if (kept >= spec.target_unique)
    return false;
  // Items in the air are bounded by the names still missing over the names
  // an item has yielded so far, so a target job stops close to its target
  // instead of overshooting by a whole pool.
  auto missing = static_cast<double>(spec.target_unique - kept);
  auto per_item = stats.done > 0 ? std::max(0.05, static_cast<double>(stats.kept)
                                                    / static_cast<double>(stats.done))
                                 : 1.0;
  return static_cast<double>(outstanding) < std::ceil(missing / per_item);
}

bool scheduler::job_run::complete() {
  if (outstanding > 0)
    return false;
  if (spec.is_target())
    return kept_total() >= spec.target_unique
           || !fresh_available(); // ceiling reached
  return !fresh_available();
}

// -- scheduler ----------------------------------------------------------------

scheduler::scheduler(std::vector<job_spec> jobs, size_t max_in_flight)
  : max_in_flight_(max_in_flight), jobs_left_(jobs.size()) {
  jobs_.reserve(jobs.size());
  for (auto& spec : jobs) {
    job_run j;
    auto& skip = spec.finished_before;
    std::sort(skip.begin(), skip.end());
    skip.erase(std::unique(skip.begin(), skip.end()), skip.end());
    // A journal of a larger budget may hold items beyond this plan: they
    // were done before, they are not part of what this run has to do.
    j.resumed_in_plan = static_cast<uint64_t>(
      std::lower_bound(skip.begin(), skip.end(), spec.ceiling())
      - skip.begin());
    j.stats.name = spec.name;
    j.stats.mode = spec.mode;
    if (spec.stop_when.enabled())
      j.recent = new_rate_window{spec.stop_when.window};
    j.discovery.add(0, 0); // the curve starts at the origin
    j.spec = std::move(spec);
    jobs_.push_back(std::move(j));
  }
}

bool scheduler::has_work() {
  if (!due_.empty())
    return true;
  for (auto& j : jobs_)
    if (!j.finished && j.fresh_available())
      return true;
  return false;
}

std::optional<scheduler::item> scheduler::next() {
  if (!due_.empty()) {
    auto p = due_.front();
    due_.pop_front();
    return p;
  }
  for (size_t k = 0; k < jobs_.size(); ++k) {
    auto j = (next_job_ + k) % jobs_.size();
    auto& job = jobs_[j];
    if (!job.finished && job.fresh_available()) {
      next_job_ = (j + 1) % jobs_.size();
      ++job.outstanding;
      return item{static_cast<uint32_t>(j), job.next_index++, 0};
    }
  }
  return std::nullopt;
}

size_t scheduler::room(size_t idle) const {
  if (in_flight_ >= max_in_flight_)
    return 0;
  return std::min(idle, max_in_flight_ - in_flight_);
}

void scheduler::sent(const item& it) {
  auto& job = jobs_[it.job];
  ++in_flight_;
  ++job.in_flight;
  ++job.stats.attempts;
  job.bins.level(now(), job.in_flight);
}

void scheduler::returned(const item& it, uint32_t sends, uint64_t latency_us) {
  auto& job = jobs_[it.job];
  --in_flight_;
  --job.in_flight;
  auto t = now();
  job.bins.level(t, job.in_flight);
  job.bins.response(t, std::max<uint32_t>(sends, 1));
  if (sends > 1) {
    // libcurl re-sent the request on a fresh connection after the reused
    // one died: the server saw each send, so each counts as an attempt
    // (retried for a transport failure).
    job.stats.attempts += sends - 1;
    job.stats.retries_by_kind[static_cast<size_t>(failure_kind::transport)]
      += sends - 1;
    job.bins.retry(t, failure_kind::transport, sends - 1);
  }
  if (latency_us > 0)
    job.latencies.record(latency_us);
}

void scheduler::lost(const item& it) {
  // The attempt never completed: the same attempt goes first again. It
  // still counts as an attempt: it may have reached the server (a request
  // actor lost mid-request), and attempts must cover what the server was
  // sent.
  auto& job = jobs_[it.job];
  --in_flight_;
  --job.in_flight;
  job.bins.level(now(), job.in_flight);
  due_.push_front(it);
}

void scheduler::retry_due(const item& it) {
  due_.push_back(it);
}

void scheduler::retrying(uint32_t job, failure_kind kind) {
  ++jobs_[job].stats.retries_by_kind[static_cast<size_t>(kind)];
  jobs_[job].bins.retry(now(), kind);
}

bool scheduler::written(uint32_t job, const write_stats& ws) {
  auto& j = jobs_[job];
  ++j.stats.done;
  j.stats.add(ws);
  j.discovery.add(j.stats.choices, j.stats.kept);
  --j.outstanding;
  if (!j.spec.stop_when.enabled() || j.saturated)
    return false;
  j.recent.add(ws.kept, ws.valid() - ws.kept);
  if (!j.recent.below(j.spec.stop_when.new_rate_below))
    return false;
  j.saturated = true;
  j.stats.stopped_by = "saturation";
  j.stats.stopped_at_choices = j.stats.choices;
  return true;
}

void scheduler::failed(uint32_t job) {
  auto& j = jobs_[job];
  ++j.stats.failed;
  --j.outstanding;
}

bool scheduler::check_job(uint32_t job, double wall_s) {
  auto& j = jobs_[job];
  if (j.finished || !j.complete())
    return false;
  j.finished = true;
  j.stats.wall_s = wall_s;
  if (j.stats.stopped_by.empty()) {
    j.stats.stopped_by =
      j.spec.is_target() && j.kept_total() >= j.spec.target_unique ? "target"
                                                                   : "budget";
    j.stats.stopped_at_choices = j.stats.choices;
  }
  --jobs_left_;
  return true;
}

run_summary scheduler::summary(double wall_s) const {
  run_summary out;
  out.wall_s = wall_s;
  for (auto& j : jobs_) {
    auto s = j.stats;
    if (!j.finished)
      s.wall_s = wall_s;
    s.planned = j.spec.is_target() ? s.done + s.failed : j.planned();
    s.target_unique = j.spec.target_unique;
    s.resumed_items = j.spec.finished_before.size();
    s.resumed_kept = j.spec.kept_before;
    s.latency_p50_ms = j.latencies.quantile_ms(0.50);
    s.latency_p95_ms = j.latencies.quantile_ms(0.95);
    s.latency_p99_ms = j.latencies.quantile_ms(0.99);
    j.discovery.export_to(s.series.curve_choices, s.series.curve_kept);
    j.bins.export_to(s.series, s.wall_s);
    for (auto [b, n] : j.latencies.nonzero()) {
      s.series.latency_buckets.push_back(b);
      s.series.latency_counts.push_back(n);
    }
    out.jobs.push_back(std::move(s));
  }
  return out;
}

std::vector<progress_row> scheduler::progress(double elapsed) const {
  std::vector<progress_row> rows;
  for (auto& j : jobs_) {
    auto& s = j.stats;
    progress_row row;
    row.name = s.name;
    row.finished = s.done + s.failed;
    row.total = j.spec.is_target() ? 0 : j.planned();
    row.failed = s.failed;
    row.kept = j.kept_total();
    row.target_unique = j.spec.target_unique;
    row.duplicates = s.duplicates;
    row.in_flight = j.in_flight;
    row.retries = s.retries();
    auto t = j.finished ? std::max(s.wall_s, 1e-3) : std::max(elapsed, 1e-3);
    row.requests_per_s = static_cast<double>(row.finished) / t;
    row.kept_per_s = static_cast<double>(s.kept) / t;
    row.done = j.finished;
    rows.push_back(std::move(row));
  }
  return rows;
}

// -- token_account ------------------------------------------------------------

bool token_account::pay_and_check() {
  // Sends libcurl made on its own are paid for before new work goes out.
  auto pay = std::min<uint64_t>(tokens, debt);
  tokens -= static_cast<uint32_t>(pay);
  debt -= pay;
  return tokens > 0;
}

uint32_t token_account::want(size_t room) const {
  return static_cast<uint32_t>(
    std::min<uint64_t>(static_cast<uint64_t>(room) + debt, UINT32_MAX));
}

} // namespace evo
