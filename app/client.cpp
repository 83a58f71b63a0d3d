#include "app/client.hpp"

#include "caf/all.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "actors/coordinator/coordinator_actor.hpp"
#include "actors/rate_limiter/rate_limiter_actor.hpp"
#include "actors/rate_limiter/token_budget.hpp"
#include "actors/request/http_engine.hpp"
#include "actors/request/openai_protocol.hpp"
#include "actors/request/request_actor.hpp"
#include "actors/request/url.hpp"
#include "app/cluster.hpp"
#include "app/config/config_loader.hpp"
#include "app/node.hpp"
#include "tools/sim/sim_server.hpp"
#include "actors/writer/run_journal.hpp"
#include "actors/writer/writer_actor.hpp"

namespace evo {

namespace {

// Runs a cleanup when the scope ends, however it ends (CAF's scope guard is
// internal API).
template <class F>
struct scope_exit {
  F fn;
  ~scope_exit() { fn(); }
};
template <class F>
scope_exit<F> on_scope_exit(F fn) {
  return scope_exit<F>{std::move(fn)};
}


// Collects choices in memory for complete_batch: a writer that keeps
// everything, in order. Its data is read only after the run's reply.
struct collector_state {
  static inline const char* name = "collector";
  std::shared_ptr<std::vector<std::vector<std::string>>> results;
  std::shared_ptr<std::vector<std::pair<size_t, std::string>>> failures;
};

writer_actor::behavior_type
collector(writer_actor::stateful_pointer<collector_state> self,
          std::shared_ptr<std::vector<std::vector<std::string>>> results,
          std::shared_ptr<std::vector<std::pair<size_t, std::string>>> failures) {
  self->state.results = std::move(results);
  self->state.failures = std::move(failures);
  return {
    [](open_atom, const job_output&) -> uint64_t { return 0; },
    [self](write_batch& batch) -> write_report {
      write_report report;
      for (auto& item : batch.items) {
        write_stats ws;
        ws.choices = static_cast<uint32_t>(item.choices.size());
        ws.kept = ws.choices;
        (*self->state.results)[item.job] = std::move(item.choices);
        report.items.push_back(ws);
      }
      return report;
    },
    [self](failure_record& rec) -> uint64_t {
      self->state.failures->emplace_back(rec.job, std::move(rec.reason));
      return rec.index;
    },
  };
}

} // namespace

struct client::impl {
  api_config api;
  std::string model;
  cluster_config cluster;
  std::unique_ptr<sim::sim_server> sim; // before the system: outlives it
  http_engine engine;                   // outlives every request actor
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<request_actor> pool;      // local request actors
  request_target target;                // where local request actors send
  rate_limiter_actor limiter;
  std::unique_ptr<cluster_link> workers; // null = a local run
  std::mutex stop_mtx;                  // guards running and stop_asked
  coordinator_actor running;            // the run going on, if any
  int stop_asked = 0;                   // 0 none, 1 graceful, 2 now
  std::mutex run_mu;                    // one run at a time on the pool
  std::mutex calls_mu;                  // async calls still running
  std::condition_variable calls_cv;
  size_t calls = 0;

  impl(api_config a, std::string m, cluster_config c)
    : api(std::move(a)),
      model(std::move(m)),
      cluster(std::move(c)),
      engine(io_threads_for(api)) {
    bool distributed = !cluster.workers.empty();
    configure_system(cfg, distributed, cluster.tls);
    // With worker nodes the head sends no request itself unless asked to
    // (cluster.local_pool), and needs no model server of its own then.
    int local = distributed ? cluster.local_pool : api.max_concurrent_requests;
    if (local > 0)
      sim = start_embedded_sim(api, model);
    sys = std::make_unique<caf::actor_system>(cfg);
    if (local > 0) {
      target = make_request_target(api);
      pool = spawn_pool(*sys, engine, target, local);
    }
    if (api.rate_limit_per_second || api.tokens_per_minute > 0)
      limiter = sys->spawn(rate_limiter, api.rate_limit_per_second.value_or(0),
                           api.burst, api.tokens_per_minute);
    if (distributed)
      workers = std::make_unique<cluster_link>(
        *sys, make_link_options(cluster, model, api.timeout_s));
  }

  // Runs fn on a thread of its own; the client waits for it on destruction.
  template <class F>
  auto launch(F fn) -> std::future<decltype(fn())> {
    {
      std::lock_guard<std::mutex> guard{calls_mu};
      ++calls;
    }
    try {
      return std::async(std::launch::async, [this, fn = std::move(fn)] {
        auto done = on_scope_exit([this] { call_done(); });
        return fn();
      });
    } catch (...) { // no thread: nothing to wait for
      call_done();
      throw;
    }
  }

  void call_done() {
    // Notify under the lock: the waiter cannot destroy the client before
    // this thread has let go of it.
    std::lock_guard<std::mutex> guard{calls_mu};
    --calls;
    calls_cv.notify_all();
  }

  void wait_for_calls() {
    std::unique_lock<std::mutex> lock{calls_mu};
    calls_cv.wait(lock, [this] { return calls == 0; });
  }

  ~impl() {
    workers.reset();
    for (auto& a : pool)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (limiter)
      caf::anon_send_exit(limiter, caf::exit_reason::user_shutdown);
    pool.clear();
    limiter = nullptr;
    sys.reset(); // waits for every actor; then the engine may go
  }

  // A replacement for a local request actor that died.
  request_actor spawn_one() {
    return spawn_pool(*sys, engine, target, 1).front();
  }

  run_summary run_with(run_plan plan, writer_actor sink,
                       const std::vector<job_output>& outputs) {
    // A coordinator takes the whole pool for its run: overlapping calls
    // (the *_async ones) wait their turn.
    std::lock_guard<std::mutex> one_run{run_mu};
    caf::scoped_actor self{*sys};
    std::string failure;
    for (auto& out : outputs) {
      self->request(sink, caf::infinite, open_atom_v, out)
        .receive(
          [&](uint64_t known) {
            if (known > 0)
              spdlog::info("{}: {} names already in {}", out.name, known,
                           out.dir);
            if (out.job < plan.jobs.size())
              plan.jobs[out.job].kept_before = known;
          },
          [&](caf::error& err) { failure = error_text(err); });
      if (!failure.empty())
        throw run_error(failure);
    }
    request_factory respawn;
    if (!pool.empty())
      respawn = [this] { return request_actor{spawn_one()}; };
    auto coord = sys->spawn(coordinator, std::move(plan), pool, limiter, sink,
                            std::move(respawn));
    if (workers)
      workers->attach(coord);
    {
      std::lock_guard<std::mutex> guard{stop_mtx};
      running = coord;
      if (stop_asked > 0) // a signal came while the run was being set up
        caf::anon_send(running, stop_atom_v, stop_asked > 1);
    }
    auto detach = on_scope_exit([&] {
      {
        std::lock_guard<std::mutex> guard{stop_mtx};
        running = nullptr;
      }
      if (workers)
        workers->detach();
    });
    run_summary summary;
    self->request(coord, caf::infinite, run_atom_v)
      .receive([&](run_summary& s) { summary = std::move(s); },
               [&](caf::error& err) { failure = error_text(err); });
    if (!failure.empty() && workers) {
      // Say why the workers that never joined did not.
      auto why = workers->diagnosis();
      if (!why.empty())
        failure += "; " + why;
    }
    if (!failure.empty())
      throw run_error(failure);
    if (!summary.aborted.empty())
      throw run_error(summary.aborted, std::move(summary));
    return summary;
  }

  // Runs one single-request job per prompt into an in-memory collector.
  std::vector<std::vector<std::string>> run_batch(run_plan plan) {
    auto results = std::make_shared<std::vector<std::vector<std::string>>>(
      plan.jobs.size());
    auto failures
      = std::make_shared<std::vector<std::pair<size_t, std::string>>>();
    auto sink = sys->spawn(collector, results, failures);
    auto guard = on_scope_exit(
      [&] { caf::anon_send_exit(sink, caf::exit_reason::user_shutdown); });
    run_with(std::move(plan), sink, {});
    if (!failures->empty()) {
      std::string what = std::to_string(failures->size())
                         + " prompt(s) failed for good; first: #"
                         + std::to_string(failures->front().first) + ": "
                         + failures->front().second;
      throw batch_error(what, std::move(*results), std::move(*failures));
    }
    return std::move(*results);
  }
};

client::client(api_config api, std::string model, cluster_config cluster)
  : impl_([&] {
      // A hand-filled config gets what a loaded one gets.
      api.base_url = normalize_base_url(api.base_url, "api_config.base_url");
      return std::make_unique<impl>(std::move(api), std::move(model),
                                    std::move(cluster));
    }()) {
  // nop
}

client::~client() {
  impl_->wait_for_calls();
}

const std::string& client::base_url() const {
  return impl_->api.base_url;
}

const api_config& client::api() const {
  return impl_->api;
}

const std::string& client::model() const {
  return impl_->model;
}

run_plan client::make_plan(std::vector<job_spec> jobs) const {
  run_plan plan;
  plan.jobs = std::move(jobs);
  plan.max_retries = impl_->api.max_retries;
  plan.backoff_base = std::chrono::milliseconds(
    static_cast<int64_t>(impl_->api.backoff_base_s * 1000.0));
  plan.backoff_max = std::chrono::milliseconds(
    static_cast<int64_t>(impl_->api.backoff_max_s * 1000.0));
  // Locally the in-flight cap is min(pool, semaphore); with worker nodes it
  // is the number of request actors they lend, under the head's semaphore
  // when one is set.
  auto& api = impl_->api;
  plan.max_in_flight
    = !impl_->workers ? static_cast<size_t>(std::max(1, api.max_in_flight()))
      : api.semaphore_size ? static_cast<size_t>(std::max(1, *api.semaphore_size))
                           : SIZE_MAX;
  plan.adaptive = api.adaptive;
  plan.min_in_flight = static_cast<size_t>(std::max(1, api.concurrency_min));
  plan.base_url = url::redact(api.base_url);
  plan.worker_grace = std::chrono::milliseconds(
    static_cast<int64_t>(impl_->cluster.grace_s * 1000.0));
  plan.actors_may_join = impl_->workers != nullptr;
  plan.tokens_per_minute = api.tokens_per_minute;
  check_token_budget(api, plan.jobs);
  return plan;
}

void check_token_budget(const api_config& api,
                        const std::vector<job_spec>& jobs) {
  if (api.tokens_per_minute == 0)
    return;
  auto where = api.tokens_per_minute_where.empty()
                 ? std::string{"api.concurrency.tokens_per_minute"}
                 : api.tokens_per_minute_where;
  for (auto& job : jobs) {
    auto r = reservation_of(job.body);
    if (!r.bounded)
      throw config_error(where + ": job " + job.name + " sets no max_tokens, "
                         "so a request's tokens have no bound to reserve");
    auto each = r.prompt_estimate + r.max_completion;
    if (each > api.tokens_per_minute)
      throw config_error(
        where + ": one request of job " + job.name + " reserves "
        + std::to_string(each) + " tokens (prompt ~"
        + std::to_string(r.prompt_estimate) + ", estimated from its "
        + std::to_string(r.prompt_bytes) + " bytes, + max_tokens x n = "
        + std::to_string(r.max_completion) + "), more than the budget of "
        + std::to_string(api.tokens_per_minute)
        + " per minute: it could never be sent; raise the budget or lower "
          "max_tokens or n");
  }
}

void client::stop(bool now) {
  std::lock_guard<std::mutex> guard{impl_->stop_mtx};
  impl_->stop_asked = std::max(impl_->stop_asked, now ? 2 : 1);
  if (impl_->running)
    caf::anon_send(impl_->running, stop_atom_v, now);
}

run_summary client::run(run_plan plan, const std::vector<job_output>& outputs,
                        const run_options& opts) {
  if (opts.journal) {
    for (auto& job : plan.jobs) {
      auto it = opts.journal->loaded().find(job.name);
      if (it != opts.journal->loaded().end()) {
        job.finished_before = it->second.finished;
        spdlog::info("{}: resuming; {} item(s) finished before", job.name,
                     job.finished_before.size());
      }
    }
  }
  auto w = impl_->sys->spawn(writer, opts.journal, opts.global_dedupe);
  auto guard = on_scope_exit(
    [&] { caf::anon_send_exit(w, caf::exit_reason::user_shutdown); });
  return impl_->run_with(std::move(plan), w, outputs);
}

std::vector<std::string> client::complete(const std::string& prompt,
                                          const sampling_params& params) {
  return complete_batch({prompt}, params).front();
}

std::vector<std::vector<std::string>>
client::complete_batch(const std::vector<std::string>& prompts,
                       const sampling_params& params) {
  std::vector<job_spec> jobs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto spec = build_l2r_request(impl_->model, prompts[i], params);
    jobs.push_back(make_job("prompt " + std::to_string(i), "l2r",
                            spec.endpoint, std::move(spec.body), 1));
  }
  return impl_->run_batch(make_plan(std::move(jobs)));
}

std::vector<std::vector<std::string>> client::complete_fim_batch(
  const std::vector<std::pair<std::string, std::string>>& pairs,
  const sampling_params& params) {
  std::vector<job_spec> jobs;
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto spec = build_fim_request(impl_->api.fim, impl_->model,
                                  pairs[i].first, pairs[i].second, params);
    jobs.push_back(make_job("pair " + std::to_string(i), "fim",
                            spec.endpoint, std::move(spec.body), 1));
  }
  return impl_->run_batch(make_plan(std::move(jobs)));
}

std::vector<std::string> client::complete_fim(const std::string& prefix,
                                              const std::string& suffix,
                                              const sampling_params& params) {
  return complete_fim_batch({{prefix, suffix}}, params).front();
}

std::future<std::vector<std::string>>
client::complete_async(std::string prompt, sampling_params params) {
  return impl_->launch([this, prompt = std::move(prompt),
                        params = std::move(params)] {
    return complete(prompt, params);
  });
}

std::future<std::vector<std::vector<std::string>>>
client::complete_batch_async(std::vector<std::string> prompts,
                             sampling_params params) {
  return impl_->launch([this, prompts = std::move(prompts),
                        params = std::move(params)] {
    return complete_batch(prompts, params);
  });
}

std::future<std::vector<std::string>>
client::complete_fim_async(std::string prefix, std::string suffix,
                           sampling_params params) {
  return impl_->launch([this, prefix = std::move(prefix),
                        suffix = std::move(suffix),
                        params = std::move(params)] {
    return complete_fim(prefix, suffix, params);
  });
}

std::future<std::vector<std::vector<std::string>>>
client::complete_fim_batch_async(
  std::vector<std::pair<std::string, std::string>> pairs,
  sampling_params params) {
  return impl_->launch([this, pairs = std::move(pairs),
                        params = std::move(params)] {
    return complete_fim_batch(pairs, params);
  });
}

} // namespace evo
