#include "actors/coordinator/coordinator_actor.hpp"

#include "caf/all.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace evo {

std::string error_text(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

} // namespace

// -- job_run ------------------------------------------------------------------

bool coordinator_state::job_run::fresh_available() {
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

bool coordinator_state::job_run::complete() {
  if (outstanding > 0)
    return false;
  if (spec.is_target())
    return kept_total() >= spec.target_unique
           || !fresh_available(); // ceiling reached
  return !fresh_available();
}

// -- coordinator_state -----------------------------------------------------------

coordinator_state::coordinator_state(coordinator_actor::pointer self)
  : self(self) {
  // nop
}

bool coordinator_state::has_work() {
  if (!due.empty())
    return true;
  for (auto& j : jobs)
    if (!j.finished && j.fresh_available())
      return true;
  return false;
}

std::optional<coordinator_state::pending> coordinator_state::next_item() {
  if (!due.empty()) {
    auto p = due.front();
    due.pop_front();
    return p;
  }
  // Round-robin over the jobs that may issue fresh items: none starves.
  for (size_t k = 0; k < jobs.size(); ++k) {
    auto j = (next_job + k) % jobs.size();
    auto& job = jobs[j];
    if (!job.finished && job.fresh_available()) {
      next_job = (j + 1) % jobs.size();
      ++job.outstanding;
      return pending{static_cast<uint32_t>(j), job.next_index++, 0};
    }
  }
  return std::nullopt;
}

void coordinator_state::pump() {
  while (running && !idle.empty() && in_flight < plan.max_in_flight
         && has_work()) {
    if (limiter) {
      // Sends libcurl made on its own are paid for before new work goes out.
      auto pay = std::min<uint64_t>(tokens, token_debt);
      tokens -= static_cast<uint32_t>(pay);
      token_debt -= pay;
      if (tokens == 0) {
        if (!acquiring) {
          acquiring = true;
          auto want = static_cast<uint32_t>(
            std::min<uint64_t>(std::min(idle.size(),
                                        plan.max_in_flight - in_flight)
                                 + token_debt,
                               UINT32_MAX));
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
    }
    auto item = next_item();
    if (!item)
      return;
    if (limiter)
      --tokens;
    // Oldest idle first: the load spreads over every actor (and node).
    auto worker = std::move(idle.front());
    idle.pop_front();
    dispatch(std::move(worker), *item);
  }
}

void coordinator_state::dispatch(request_actor worker, pending item) {
  auto& job = jobs[item.job];
  ++in_flight;
  ++job.in_flight;
  ++job.stats.attempts;
  busy.emplace(worker.address(), item);
  work_item w{item.job, item.index, item.attempt, job.spec.endpoint,
              job.spec.body};
  self->request(worker, caf::infinite, std::move(w))
    .then([this, worker](attempt_result& r) { on_result(worker, r); },
          [this, addr = worker.address()](caf::error& err) {
            on_worker_lost(addr, err);
          });
}

void coordinator_state::on_result(request_actor worker, attempt_result& r) {
  if (busy.erase(worker.address()) == 0)
    return; // already given up as lost
  --in_flight;
  auto& job = jobs[r.job];
  --job.in_flight;
  idle.push_back(std::move(worker));
  if (r.sends > 1) {
    // libcurl re-sent the request on a fresh connection after the reused
    // one died: the server saw each send, so each counts as an attempt
    // (retried for a transport failure).
    job.stats.attempts += r.sends - 1;
    job.stats.retries_by_kind[static_cast<size_t>(failure_kind::transport)]
      += r.sends - 1;
    if (limiter)
      token_debt += r.sends - 1; // they took no token: pay afterwards
  }
  if (r.latency_us > 0)
    job.latencies.record(r.latency_us);
  if (r.ok()) {
    job.stats.prompt_tokens += r.prompt_tokens;
    job.stats.completion_tokens += r.completion_tokens;
    unwritten.items.push_back(
      finished_item{r.job, r.index, std::move(r.model), std::move(r.choices)});
    flush_writes();
  } else if (retries->should_retry(r.attempt, r.failure, r.http_status)) {
    ++job.stats.retries_by_kind[static_cast<size_t>(r.failure)];
    auto next = r.attempt + 1;
    auto delay = retries->delay(next, r.retry_after_ms);
    spdlog::debug("{} request {} attempt {} failed ({}); retry in {} ms",
                  job.spec.name, r.index, r.attempt + 1, r.detail,
                  delay.count());
    self->delayed_send(self, delay, retry_atom_v, r.job, r.index, next);
  } else {
    spdlog::warn("{} request {} failed for good after {} attempt(s): {}",
                 job.spec.name, r.index, r.attempt + 1, r.detail);
    auto jid = r.job;
    failure_record rec{r.job,         r.index,   r.attempt + 1,
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

void coordinator_state::on_worker_lost(const caf::actor_addr& worker,
                                       const caf::error& err) {
  // The request actor is gone (its node died or was cut off): the attempt
  // never completed, so the same attempt goes back to the front of the
  // queue, and the actor is not used again.
  idle.erase(std::remove_if(idle.begin(), idle.end(),
                            [&](const request_actor& a) {
                              return a.address() == worker;
                            }),
             idle.end());
  auto it = busy.find(worker);
  if (it == busy.end())
    return;
  auto item = it->second;
  busy.erase(it);
  --in_flight;
  --jobs[item.job].in_flight;
  --jobs[item.job].stats.attempts;
  spdlog::warn("request actor lost ({}); re-queueing {} request {}",
               error_text(err), jobs[item.job].spec.name, item.index);
  due.push_front(item);
  check_alive();
  pump();
}

void coordinator_state::add_pool(std::vector<request_actor> actors) {
  for (auto& a : actors) {
    if (!a)
      continue;
    self->monitor(a);
    idle.push_back(std::move(a));
    started_with_actors = true;
  }
  if (!idle.empty() && grace_armed) {
    grace_armed = false;
    ++grace_generation; // the pending grace timer no longer counts
    spdlog::info("request actors back: {} idle", idle.size());
  }
  pump();
}

void coordinator_state::check_alive() {
  if (!running || !idle.empty() || !busy.empty() || grace_armed)
    return;
  grace_armed = true;
  spdlog::warn("no request actor {}; waiting up to {} s for a worker to join",
               started_with_actors ? "left" : "yet",
               std::chrono::duration<double>(plan.worker_grace).count());
  self->delayed_send(self, plan.worker_grace, grace_atom_v, ++grace_generation);
}

void coordinator_state::flush_writes() {
  if (writing || unwritten.items.empty())
    return;
  writing = true;
  std::vector<uint32_t> job_ids;
  job_ids.reserve(unwritten.items.size());
  for (auto& item : unwritten.items)
    job_ids.push_back(item.job);
  write_batch batch;
  batch.items.swap(unwritten.items);
  self->request(writer, caf::infinite, std::move(batch))
    .then(
      [this, job_ids = std::move(job_ids)](write_report& report) {
        writing = false;
        if (report.items.size() != job_ids.size()) {
          fail(caf::make_error(caf::sec::runtime_error,
                               "writer answered for "
                                 + std::to_string(report.items.size())
                                 + " of " + std::to_string(job_ids.size())
                                 + " requests"));
          return;
        }
        for (size_t i = 0; i < job_ids.size() && running; ++i) {
          auto& job = jobs[job_ids[i]];
          ++job.stats.done;
          job.stats.add(report.items[i]);
          --job.outstanding;
          check_job(job_ids[i]);
        }
        flush_writes();
        pump();
      },
      [this](caf::error& err) { fail(err); });
}

void coordinator_state::finish_item(uint32_t jid) {
  --jobs[jid].outstanding;
  check_job(jid);
  pump();
}

void coordinator_state::check_job(uint32_t jid) {
  auto& job = jobs[jid];
  if (job.finished || !job.complete())
    return;
  job.finished = true;
  job.stats.wall_s = seconds_since(started);
  if (plan.progress == progress_mode::log)
    spdlog::info("{}: finished: {} requests, {} kept, {} failed",
                 job.spec.name, job.stats.done + job.stats.failed,
                 job.stats.kept, job.stats.failed);
  if (job.spec.is_target() && job.kept_total() < job.spec.target_unique)
    spdlog::warn("{}: max_requests ({}) reached with {} of {} names",
                 job.spec.name, job.spec.max_requests, job.kept_total(),
                 job.spec.target_unique);
  if (--jobs_left == 0 && running) {
    running = false;
    show_progress(true);
    done.deliver(summary());
    self->quit();
  }
}

void coordinator_state::fail(const caf::error& err) {
  if (!running)
    return;
  running = false;
  show_progress(true);
  spdlog::error("run aborted: {}", error_text(err));
  done.deliver(err);
  self->quit();
}

void coordinator_state::show_progress(bool final) {
  if (plan.progress == progress_mode::none)
    return;
  auto elapsed = std::max(seconds_since(started), 1e-3);
  std::string out;
  if (plan.progress == progress_mode::tty && tty_lines > 0)
    out += "\x1b[" + std::to_string(tty_lines) + "F"; // back to the first line
  for (auto& j : jobs) {
    auto& s = j.stats;
    progress_row row;
    row.name = s.name;
    row.finished = s.done + s.failed;
    row.total = j.spec.is_target() ? 0
                                   : j.spec.requests
                                       - j.spec.finished_before.size();
    row.failed = s.failed;
    row.kept = j.kept_total();
    row.target_unique = j.spec.target_unique;
    row.duplicates = s.duplicates;
    row.in_flight = j.in_flight;
    row.retries = s.retries();
    auto t = j.finished ? std::max(s.wall_s, 1e-3) : elapsed;
    row.requests_per_s = static_cast<double>(row.finished) / t;
    row.kept_per_s = static_cast<double>(s.kept) / t;
    row.done = j.finished;
    if (plan.progress == progress_mode::tty)
      out += "\x1b[2K" + render_progress(row) + "\n";
    else if (!final)
      spdlog::info("{}", render_progress(row));
  }
  if (plan.progress == progress_mode::tty) {
    tty_lines = jobs.size();
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
  }
}

run_summary coordinator_state::summary() const {
  run_summary out;
  out.wall_s = seconds_since(started);
  for (auto& j : jobs) {
    auto s = j.stats;
    if (!j.finished)
      s.wall_s = out.wall_s;
    s.planned = j.spec.is_target() ? s.done + s.failed
                                   : j.spec.requests
                                       - j.spec.finished_before.size();
    s.target_unique = j.spec.target_unique;
    s.resumed_items = j.spec.finished_before.size();
    s.resumed_kept = j.spec.kept_before;
    s.latency_p50_ms = j.latencies.quantile_ms(0.50);
    s.latency_p95_ms = j.latencies.quantile_ms(0.95);
    s.latency_p99_ms = j.latencies.quantile_ms(0.99);
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
  for (auto& spec : plan.jobs) {
    coordinator_state::job_run j;
    std::sort(spec.finished_before.begin(), spec.finished_before.end());
    j.stats.name = spec.name;
    j.stats.mode = spec.mode;
    j.spec = std::move(spec);
    st.jobs.push_back(std::move(j));
  }
  plan.jobs.clear(); // the job_runs own the specs now
  st.plan = std::move(plan);
  st.add_pool(std::move(pool));
  st.limiter = std::move(limiter);
  st.writer = std::move(writer);
  st.jobs_left = st.jobs.size();
  self->set_down_handler([self](caf::down_msg& dm) {
    self->state.on_worker_lost(caf::actor_cast<caf::actor_addr>(dm.source),
                               dm.reason);
  });
  return {
    [self](run_atom) -> caf::result<run_summary> {
      auto& st = self->state;
      st.done = self->make_response_promise<run_summary>();
      st.started = std::chrono::steady_clock::now();
      st.running = true;
      for (uint32_t j = 0; j < st.jobs.size(); ++j)
        st.check_job(j); // jobs finished by an earlier run
      if (!st.running)
        return st.done;
      if (st.plan.progress != progress_mode::none)
        self->delayed_send(self, st.plan.progress_interval, tick_atom_v);
      st.check_alive();
      st.pump();
      return st.done;
    },
    [self](add_pool_atom, worker_pool& pool) {
      std::vector<request_actor> actors;
      for (auto& a : pool.actors)
        actors.push_back(caf::actor_cast<request_actor>(std::move(a)));
      spdlog::info("worker {} joined with {} request actor(s) ({})",
                   pool.worker, actors.size(), pool.base_url);
      self->state.add_pool(std::move(actors));
    },
    [self](grace_atom, uint64_t generation) {
      auto& st = self->state;
      if (!st.grace_armed || generation != st.grace_generation)
        return;
      st.fail(caf::make_error(
        caf::sec::runtime_error,
        "no request actor for "
          + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                             st.plan.worker_grace)
                             .count())
          + " s (no worker reachable); what was written is kept"));
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
      st.show_progress(false);
      self->delayed_send(self, st.plan.progress_interval, tick_atom_v);
    },
  };
}

} // namespace evo
