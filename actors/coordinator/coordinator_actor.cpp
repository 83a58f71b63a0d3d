#include "coordinator/coordinator_actor.hpp"

#include "caf/all.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace evo {

std::string error_text(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

namespace {

double percentile_ms(std::vector<uint32_t> v, double p) {
  if (v.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

} // namespace

coordinator_state::coordinator_state(coordinator_actor::pointer self)
  : self(self) {
  // nop
}

bool coordinator_state::has_work() const {
  if (!due.empty())
    return true;
  for (auto& j : jobs)
    if (j.next_index < j.stats.planned)
      return true;
  return false;
}

coordinator_state::pending coordinator_state::next_item() {
  if (!due.empty()) {
    auto p = due.front();
    due.pop_front();
    return p;
  }
  // Round-robin over the jobs that still have fresh items: none starves.
  for (size_t k = 0; k < jobs.size(); ++k) {
    auto j = (next_job + k) % jobs.size();
    if (jobs[j].next_index < jobs[j].stats.planned) {
      next_job = (j + 1) % jobs.size();
      return {static_cast<uint32_t>(j), jobs[j].next_index++, 0};
    }
  }
  return {0, 0, 0}; // unreachable when has_work() held
}

void coordinator_state::pump() {
  if (!running)
    return;
  while (!idle.empty() && in_flight < plan.max_in_flight && has_work()) {
    if (limiter) {
      if (tokens == 0) {
        if (!acquiring) {
          acquiring = true;
          auto want = static_cast<uint32_t>(
            std::min(idle.size(), plan.max_in_flight - in_flight));
          self->request(limiter, caf::infinite, acquire_atom_v, want)
            .then(
              [this](uint32_t got) {
                acquiring = false;
                tokens += got;
                pump();
              },
              [this](caf::error& err) { fail(err); });
        }
        return;
      }
      --tokens;
    }
    auto worker = std::move(idle.back());
    idle.pop_back();
    dispatch(std::move(worker), next_item());
  }
}

void coordinator_state::dispatch(request_actor worker, pending item) {
  auto& job = jobs[item.job];
  auto& spec = plan.jobs[item.job];
  ++in_flight;
  ++job.in_flight;
  ++job.stats.attempts;
  work_item w{item.job, item.index, item.attempt, spec.endpoint, spec.body};
  self->request(worker, caf::infinite, std::move(w))
    .then([this, worker](attempt_result& r) { on_result(worker, r); },
          [this, item](caf::error& err) { on_worker_lost(item, err); });
}

void coordinator_state::on_result(request_actor worker, attempt_result& r) {
  --in_flight;
  auto& job = jobs[r.job];
  --job.in_flight;
  idle.push_back(std::move(worker));
  if (r.latency_us > 0)
    job.latencies_us.push_back(r.latency_us);
  if (r.ok()) {
    job.stats.prompt_tokens += r.prompt_tokens;
    job.stats.completion_tokens += r.completion_tokens;
    auto jid = r.job;
    self
      ->request(writer, caf::infinite,
                write_batch{r.job, r.index, std::move(r.model),
                            std::move(r.choices)})
      .then(
        [this, jid](write_stats& ws) {
          auto& s = jobs[jid].stats;
          ++s.done;
          s.choices += ws.choices;
          s.kept += ws.kept;
          s.duplicates += ws.duplicates;
          s.filtered_empty += ws.filtered_empty;
          s.filtered_regex += ws.filtered_regex;
          s.filtered_weak += ws.filtered_weak;
          finish_item(jid);
        },
        [this](caf::error& err) { fail(err); });
  } else if (retries->should_retry(r.attempt, r.failure, r.http_status)) {
    ++job.stats.retries_by_kind[static_cast<size_t>(r.failure)];
    auto next = r.attempt + 1;
    auto delay = retries->delay(next, r.retry_after_ms);
    spdlog::debug("{} request {} attempt {} failed ({}); retry in {} ms",
                  plan.jobs[r.job].name, r.index, r.attempt + 1, r.detail,
                  delay.count());
    self->delayed_send(self, delay, retry_atom_v, r.job, r.index, next);
  } else {
    spdlog::warn("{} request {} failed for good after {} attempt(s): {}",
                 plan.jobs[r.job].name, r.index, r.attempt + 1, r.detail);
    auto jid = r.job;
    failure_record rec{r.job,     r.index,   r.attempt + 1,
                       r.http_status, r.failure, std::move(r.detail)};
    self->request(writer, caf::infinite, std::move(rec))
      .then(
        [this, jid](uint64_t) {
          ++jobs[jid].stats.failed;
          finish_item(jid);
        },
        [this](caf::error& err) { fail(err); });
  }
  pump();
}

void coordinator_state::on_worker_lost(pending item, const caf::error& err) {
  // The request actor is gone (its node died): the attempt never completed,
  // so the same attempt goes back to the front of the queue.
  --in_flight;
  --jobs[item.job].in_flight;
  --jobs[item.job].stats.attempts;
  spdlog::warn("request actor lost ({}); re-queueing {} request {}",
               error_text(err), plan.jobs[item.job].name, item.index);
  due.push_front(item);
  if (idle.empty() && in_flight == 0) {
    fail(caf::make_error(caf::sec::runtime_error,
                         std::string{"no request actors left"}));
    return;
  }
  pump();
}

void coordinator_state::finish_item(uint32_t jid) {
  auto& job = jobs[jid];
  ++job.finished;
  if (job.finished == job.stats.planned && !job.logged_done) {
    job.logged_done = true;
    job.stats.wall_s = seconds_since(job.started);
    if (plan.progress_interval.count() > 0)
      spdlog::info("{}: all {} requests finished ({} kept, {} failed)",
                   job.stats.name, job.stats.planned, job.stats.kept,
                   job.stats.failed);
  }
  if (--unfinished == 0 && running) {
    running = false;
    done.deliver(summary());
    self->quit();
  }
}

void coordinator_state::fail(const caf::error& err) {
  if (!running)
    return;
  running = false;
  spdlog::error("run aborted: {}", error_text(err));
  done.deliver(err);
  self->quit();
}

void coordinator_state::log_progress() const {
  for (auto& j : jobs) {
    auto& s = j.stats;
    auto elapsed = seconds_since(started);
    std::string retry_text;
    for (size_t k = 1; k < s.retries_by_kind.size(); ++k)
      if (s.retries_by_kind[k] > 0)
        retry_text += fmt::format(" {}:{}", to_string(static_cast<failure_kind>(k)),
                                  s.retries_by_kind[k]);
    spdlog::info("{}: {}/{} done, {} failed, {} in flight, kept {}, dup {}, "
                 "retries {}{}{}, {:.1f} req/s",
                 s.name, s.done, s.planned, s.failed, j.in_flight, s.kept,
                 s.duplicates, s.retries(), retry_text.empty() ? "" : " (",
                 retry_text.empty() ? "" : retry_text.substr(1) + ")",
                 elapsed > 0 ? static_cast<double>(j.finished) / elapsed : 0.0);
  }
}

run_summary coordinator_state::summary() const {
  run_summary out;
  out.wall_s = seconds_since(started);
  for (auto& j : jobs) {
    auto s = j.stats;
    if (!j.logged_done)
      s.wall_s = seconds_since(j.started);
    s.latency_p50_ms = percentile_ms(j.latencies_us, 0.50);
    s.latency_p95_ms = percentile_ms(j.latencies_us, 0.95);
    s.latency_p99_ms = percentile_ms(j.latencies_us, 0.99);
    out.jobs.push_back(std::move(s));
  }
  return out;
}

coordinator_actor::behavior_type
coordinator(coordinator_actor::stateful_pointer<coordinator_state> self,
            run_plan plan, std::vector<request_actor> pool,
            rate_limiter_actor limiter, writer_actor writer) {
  auto& st = self->state;
  st.retries.emplace(plan.max_retries, plan.backoff_base, plan.backoff_max);
  st.plan = std::move(plan);
  st.idle = std::move(pool);
  st.limiter = std::move(limiter);
  st.writer = std::move(writer);
  for (auto& spec : st.plan.jobs) {
    coordinator_state::job_run j;
    j.stats.name = spec.name;
    j.stats.mode = spec.mode;
    j.stats.planned = spec.requests;
    st.unfinished += spec.requests;
    st.jobs.push_back(std::move(j));
  }
  return {
    [self](run_atom) -> caf::result<run_summary> {
      auto& st = self->state;
      st.done = self->make_response_promise<run_summary>();
      st.started = std::chrono::steady_clock::now();
      for (auto& j : st.jobs)
        j.started = st.started;
      if (st.unfinished == 0) {
        st.done.deliver(st.summary());
        return st.done;
      }
      if (st.idle.empty())
        return caf::make_error(caf::sec::runtime_error,
                               std::string{"no request actors"});
      st.running = true;
      if (st.plan.progress_interval.count() > 0)
        self->delayed_send(self, st.plan.progress_interval, tick_atom_v);
      st.pump();
      return st.done;
    },
    [self](retry_atom, uint32_t job, uint64_t index, uint32_t attempt) {
      auto& st = self->state;
      st.due.push_back({job, index, attempt});
      st.pump();
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (!st.running)
        return;
      st.log_progress();
      self->delayed_send(self, st.plan.progress_interval, tick_atom_v);
    },
  };
}

} // namespace evo
