#include "actors/coordinator/coordinator_actor.hpp"

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

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

} // namespace

// -- coordinator_state --------------------------------------------------------

coordinator_state::coordinator_state(coordinator_impl::pointer self)
  : self(self) {
  // nop
}

double coordinator_state::elapsed() const {
  return seconds_since(started);
}

void coordinator_state::pump() {
  // Oldest idle first, of a node with headroom: the load spreads over every
  // actor and node, each node under its own limit.
  auto pick = [this] {
    return nodes->pick(idle.begin(), idle.end(), [this](const request_actor& a) {
      return node_of.at(a.address());
    });
  };
  while (running && !stopping && sched->room(idle.size()) > 0
         && pick() != idle.end() && sched->has_work()) {
    bool have_token = !limiter || tokens.pay_and_check();
    if (plan.tokens_per_minute > 0)
      held.keep(tokens.tokens); // tokens paid as debt take their reservation
    if (!have_token) {
      if (!acquiring && plan.tokens_per_minute > 0) {
        acquiring = true;
        auto each = reservation_each();
        self->request(limiter, caf::infinite, reserve_atom_v,
                      tokens.want(sched->room(idle.size())), each)
          .then(
            [this, each](uint32_t got, uint64_t id) {
              acquiring = false;
              tokens.tokens += got;
              held.add(id, each, got);
              tokens_reserved += uint64_t{got} * each;
              pump();
            },
            [this](caf::error& err) { fail(err); });
      } else if (!acquiring) {
        acquiring = true;
        self->request(limiter, caf::infinite, acquire_atom_v,
                      tokens.want(sched->room(idle.size())))
          .then(
            [this](uint32_t got) {
              acquiring = false;
              tokens.tokens += got;
              pump();
            },
            [this](caf::error& err) { fail(err); });
      }
      return;
    }
    auto it = sched->next();
    if (!it)
      return;
    // A server that takes fewer choices than asked gets parts instead.
    for (auto& part : nsplit->split(*it))
      sched->retry_due(part);
    if (limiter)
      --tokens.tokens;
    auto at = pick();
    auto actor = std::move(*at);
    idle.erase(at);
    if (plan.tokens_per_minute > 0)
      reserved[actor.address()] = held.take();
    dispatch(std::move(actor), *it);
  }
}

void coordinator_state::dispatch(request_actor actor, item it) {
  auto& job = sched->job(it.job);
  sched->sent(it);
  nodes->sent(node_of.at(actor.address()));
  busy.emplace(actor.address(), it);
  work_item w{it.job, it.index, it.attempt, job.spec.endpoint,
              nsplit->body(it, job.spec.body)};
  self->request(actor, caf::infinite, std::move(w))
    .then([this, actor](attempt_result& r) { on_result(actor, r); },
          [this, addr = actor.address()](caf::error& err) {
            on_actor_lost(addr, err);
          });
}

void coordinator_state::on_result(request_actor actor, attempt_result& r) {
  auto b = busy.find(actor.address());
  if (b == busy.end())
    return; // already given up as lost
  auto it = b->second;
  busy.erase(b);
  settle_reservation(actor.address(), r);
  auto node = node_of.at(actor.address());
  idle.push_back(std::move(actor));
  sched->returned(it, r.sends, r.latency_us);
  nodes->returned(node);
  adapt(node, r);
  if (limiter && r.sends > 1)
    tokens.debt += r.sends - 1; // they took no token: pay afterwards
  auto& job = sched->job(r.job);
  if (r.ok()) {
    job.stats.prompt_tokens += r.prompt_tokens;
    job.stats.completion_tokens += r.completion_tokens;
    std::vector<item> more;
    auto g = nsplit->answered(it, r, more);
    for (auto& part : more)
      sched->retry_due(part);
    announce_n_cap();
    if (g)
      settle(r.job, r.index, *g);
  } else if (nsplit->refused(it, r.http_status, r.detail)) {
    // Not a failure: the same attempt goes again, cut into parts.
    announce_n_cap();
    sched->retry_due(it);
  } else if (auto why = unhealing_error(r.failure, r.http_status, r.detail)) {
    // Every other request would meet it too: stop now, say what to fix.
    // The item is not journaled, so a resumed run sends it again.
    fail(caf::make_error(caf::sec::runtime_error, *why));
    return;
  } else if (retries->should_retry(r.attempt, r.failure, r.http_status)) {
    sched->retrying(r.job, r.failure);
    auto next = r.attempt + 1;
    auto delay = retries->delay(next, r.retry_after_ms);
    spdlog::debug("{} request {} attempt {} failed ({}); retry in {} ms",
                  job.spec.name, r.index, r.attempt + 1, r.detail,
                  delay.count());
    self->delayed_send(self, delay, retry_atom_v, r.job, r.index, next, it.n);
  } else if (auto g = nsplit->failed(it, r)) {
    settle(r.job, r.index, *g);
  }
  check_stopped();
  pump();
}

void coordinator_state::settle(uint32_t jid, uint64_t index,
                               n_splitter::gathered& g) {
  if (!g.failed) {
    unwritten.items.push_back(
      finished_item{jid, index, std::move(g.model), std::move(g.choices)});
    flush_writes();
    return;
  }
  spdlog::warn("{} request {} failed for good after {} attempt(s): {}",
               sched->job(jid).spec.name, index, g.attempts, g.detail);
  failure_record rec{jid,           index,     g.attempts,
                     g.http_status, g.failure, std::move(g.detail)};
  ++recording;
  self->request(writer, caf::infinite, std::move(rec))
    .then(
      [this, jid](uint64_t) {
        --recording;
        sched->failed(jid);
        check_job(jid);
        check_stopped();
        pump();
      },
      [this](caf::error& err) { fail(err); });
}

void coordinator_state::announce_n_cap() {
  if (nsplit->max_n() == logged_max_n)
    return;
  logged_max_n = nsplit->max_n();
  for (auto& note : nsplit->notes())
    spdlog::warn("{}", note);
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
        for (auto& f : report.frequencies)
          if (f.job < sched->jobs().size()) {
            auto& stats = sched->job(f.job).stats;
            stats.frequency_of_frequencies = std::move(f.counts);
            stats.top_names = std::move(f.top);
          }
        for (size_t i = 0; i < job_ids.size() && running; ++i) {
          if (sched->written(job_ids[i], report.items[i])) {
            auto& js = sched->job(job_ids[i]);
            spdlog::info("{}: saturated after {} choices (fewer than {} of "
                         "the last {} valid choices were new); no new requests",
                         js.spec.name, js.stats.stopped_at_choices,
                         js.spec.stop_when.new_rate_below,
                         js.spec.stop_when.window);
          }
          check_job(job_ids[i]);
        }
        flush_writes();
        check_stopped();
        pump();
      },
      [this](caf::error& err) { fail(err); });
}

void coordinator_state::check_job(uint32_t jid) {
  if (!sched->check_job(jid, elapsed()))
    return;
  auto& job = sched->job(jid);
  display.job_finished(job.stats);
  if (job.spec.is_target() && job.kept_total() < job.spec.target_unique)
    spdlog::warn("{}: max_requests ({}) reached with {} of {} names",
                 job.spec.name, job.spec.max_requests, job.kept_total(),
                 job.spec.target_unique);
  if (sched->all_finished() && running)
    finish(false);
}

void coordinator_state::fail(const caf::error& err) {
  if (!running)
    return;
  spdlog::error("run aborted: {}", error_text(err));
  finish(stopping, error_text(err));
}

void coordinator_state::stop(bool now) {
  if (!running) {
    stop_asked = true; // the run has not started: it ends as it starts
    return;
  }
  if (now) {
    spdlog::warn("stopping now: {} request(s) in flight are dropped",
                 sched->in_flight());
    finish(true);
    return;
  }
  if (stopping)
    return;
  stopping = true;
  spdlog::warn("stopping: no new requests; waiting up to {} s for {} in "
               "flight (signal again to stop at once)",
               std::chrono::duration<double>(plan.stop_grace).count(),
               sched->in_flight());
  self->delayed_send(self, plan.stop_grace, stop_atom_v, true);
  check_stopped();
}

void coordinator_state::check_stopped() {
  if (running && stopping && busy.empty() && !writing
      && unwritten.items.empty() && recording == 0)
    finish(true);
}

void coordinator_state::finish(bool interrupted, std::string aborted) {
  if (!running)
    return;
  running = false;
  show_progress(true);
  auto summary = sched->summary(elapsed());
  summary.concurrency = nodes->trace();
  summary.interrupted = interrupted;
  summary.aborted = std::move(aborted);
  summary.tokens_per_minute = plan.tokens_per_minute;
  summary.tokens_reserved = tokens_reserved;
  summary.tokens_used = tokens_used;

  summary.server_max_n = nsplit->max_n();
  summary.notes = nsplit->notes();

  for (auto& j : summary.jobs)
    if (j.stopped_by.empty()) {
      j.stopped_by = !summary.aborted.empty() ? "aborted" : "interrupted";
      j.stopped_at_choices = j.choices;
    }
  done.deliver(std::move(summary));
  self->quit();
}

void coordinator_state::show_progress(bool final) {
  auto rows = sched->progress(elapsed());
  if (used_last_minute) {
    auto used = used_last_minute->in_window(std::chrono::steady_clock::now());
    for (auto& row : rows) {
      row.tpm_used = used;
      row.tpm_budget = plan.tokens_per_minute;
    }
  }
  if (nodes->adaptive())
    for (auto& row : rows) {
      row.limit = sched->max_in_flight();
      row.nodes = nodes->progress_text();
    }
  display.show(rows, final);
}

uint64_t coordinator_state::reservation_each() const {
  uint64_t most = 0;
  for (size_t j = 0; j < job_reserve.size(); ++j)
    if (!sched->jobs()[j].finished)
      most = std::max(most, job_reserve[j].prompt_estimate
                              + job_reserve[j].max_completion);
  return most;
}

void coordinator_state::settle_reservation(const caf::actor_addr& actor,
                                           const attempt_result& r) {
  auto rv = reserved.find(actor);
  if (rv == reserved.end())
    return;
  auto res = rv->second;
  reserved.erase(rv);
  uint64_t used = uint64_t{r.prompt_tokens} + r.completion_tokens;
  if (!r.ok() || used == 0)
    return; // no usage: the reservation stands (conservative)
  if (r.prompt_tokens > 0 && r.job < job_reserve.size())
    job_reserve[r.job].prompt_estimate = r.prompt_tokens; // exact from now on
  tokens_used += used;
  auto now = std::chrono::steady_clock::now();
  used_last_minute->reserve(1, used, now);
  self->send(limiter, correct_atom_v, res.id, res.each, used);
}

coordinator_impl::behavior_type
coordinator(coordinator_impl::stateful_pointer<coordinator_state> self,
            run_plan plan, std::vector<request_actor> pool,
            rate_limiter_actor limiter, writer_actor writer,
            request_factory respawn) {
  auto& st = self->state;
  st.retries.emplace(plan.max_retries, plan.backoff_base, plan.backoff_max);
  std::vector<std::string> bodies;
  for (auto& j : plan.jobs)
    bodies.push_back(j.body);
  st.nsplit.emplace(bodies);
  st.sched.emplace(std::move(plan.jobs), plan.max_in_flight);
  st.sched->set_clock([&st] { return st.elapsed(); }); // for report.html
  concurrency_limit_config limits;
  limits.ceiling = plan.max_in_flight;
  limits.floor = std::min(plan.min_in_flight, limits.ceiling);
  st.nodes.emplace(plan.adaptive, limits);
  plan.jobs.clear(); // the scheduler owns the specs now
  st.display = progress_display{plan.progress};
  st.plan = std::move(plan);
  if (respawn) {
    st.respawn = std::move(respawn);
    st.respawns_left = pool.size();
    for (auto& a : pool)
      st.local.insert(a.address());
  }
  auto pool_size = pool.size();
  st.add_pool(std::move(pool), "local", st.plan.base_url, pool_size);
  st.limiter = std::move(limiter);
  if (st.plan.tokens_per_minute > 0 && st.limiter) {
    for (auto& job : st.sched->jobs())
      st.job_reserve.push_back(reservation_of(job.spec.body));
    st.used_last_minute.emplace(st.plan.tokens_per_minute, token_budget::minute);
  } else {
    st.plan.tokens_per_minute = 0; // no limiter to hold a budget
  }
  st.writer = std::move(writer);
  self->set_down_handler([self](caf::down_msg& dm) {
    self->state.on_actor_lost(caf::actor_cast<caf::actor_addr>(dm.source),
                              dm.reason);
  });
  return {
    [self](run_atom) -> caf::result<run_summary> {
      auto& st = self->state;
      st.done = self->make_response_promise<run_summary>();
      st.started = std::chrono::steady_clock::now();
      st.running = true;
      st.nodes->start(0.0);
      st.apply_limits();
      for (uint32_t j = 0; j < st.sched->jobs().size(); ++j)
        st.check_job(j); // jobs finished by an earlier run
      if (st.stop_asked)
        st.finish(true);
      if (!st.running)
        return st.done;
      if (st.plan.progress != progress_mode::none)
        self->delayed_send(self, st.plan.progress_interval, tick_atom_v);
      st.check_alive();
      st.pump();
      return st.done;
    },
    [self](add_pool_atom, worker_pool& pool) {
      spdlog::info("worker {} joined with {} request actor(s) ({})",
                   pool.worker, pool.actors.size(), pool.base_url);
      auto slots = std::max<size_t>(pool.slots, pool.actors.size());
      self->state.add_pool(std::move(pool.actors), pool.worker, pool.base_url,
                           slots);
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
    [self](retry_atom, uint32_t job, uint64_t index, uint32_t attempt,
           uint32_t n) {
      auto& st = self->state;
      st.sched->retry_due({job, index, attempt, n});
      st.pump();
    },
    [self](stop_atom, bool now) { self->state.stop(now); },
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
