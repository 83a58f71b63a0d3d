// The C++ form of the Python tool's client: built from the loaded config,
// it owns the actor system, the request-actor pool, the rate limiter and the
// HTTP engine (and the embedded simulator when base_url is "embedded").
// generate-names runs through it; so can any program that wants completions.
// No CAF in this header.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "messages/settings.hpp"
#include "messages/plan.hpp"
#include "messages/stats.hpp"
#include "messages/work.hpp"

namespace evo {

class run_journal;

/// How a run keeps its output, beyond the per-job folders.
struct run_options {
  /// Records finished items; with its loaded entries, resumes a run: items
  /// an earlier run finished are not sent again. Null = no journal.
  std::shared_ptr<run_journal> journal;
  /// One dedupe set for all the run's folders (manifest `dedupe: global`).
  bool global_dedupe = false;
};

/// A run could not finish (output not writable, no request actor left...).
struct run_error : std::runtime_error {
  using std::runtime_error::runtime_error;
  run_error(const std::string& what, run_summary partial)
    : std::runtime_error(what), summary(std::move(partial)) {
  }
  /// What the run did before it aborted (none when it never started).
  std::optional<run_summary> summary;
};

/// Some prompts of a batch failed for good. The results of the others are
/// kept in `partial`; `failures` names each failed prompt and its reason.
struct batch_error : std::runtime_error {
  batch_error(std::string what, std::vector<std::vector<std::string>> partial,
              std::vector<std::pair<size_t, std::string>> failures)
    : std::runtime_error(std::move(what)), partial(std::move(partial)),
      failures(std::move(failures)) {
  }
  std::vector<std::vector<std::string>> partial;
  std::vector<std::pair<size_t, std::string>> failures;
};

class client {
public:
  /// api.base_url is normalised as the config loader does ("/v1" appended
  /// when missing; throws config_error for a malformed URL). Starts the pool (api.concurrency.max_concurrent_requests request
  /// actors), the rate limiter and, for base_url "embedded", the simulator.
  /// With cluster.workers, the request actors come from those worker nodes
  /// (plus cluster.local_pool local ones).
  client(api_config api, std::string model, cluster_config cluster = {});
  /// Waits for the calls of the *_async functions still running.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// The server actually used (the embedded simulator's address included).
  const std::string& base_url() const;
  const api_config& api() const;
  const std::string& model() const;

  /// One L2R completion (blocking): the choices, in order.
  std::vector<std::string> complete(const std::string& prompt,
                                    const sampling_params& params);

  /// One list of choices per prompt, in order; concurrency, rate limit and
  /// retries applied. Throws batch_error when some prompt failed for good.
  std::vector<std::vector<std::string>>
  complete_batch(const std::vector<std::string>& prompts,
                 const sampling_params& params);

  /// The same for FIM (prefix, suffix) pairs, sent as api.fim configures.
  std::vector<std::vector<std::string>>
  complete_fim_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                     const sampling_params& params);

  /// One FIM completion (blocking): the choices, in order.
  std::vector<std::string> complete_fim(const std::string& prefix,
                                        const std::string& suffix,
                                        const sampling_params& params);

  /// Non-blocking forms of the calls above: each runs the blocking call on a
  /// thread of its own and returns at once; get() gives its result or
  /// rethrows its exception. Arguments are copied. The pool serves one call
  /// at a time: overlapping calls run in turn. Many prompts: one batch call,
  /// not many single ones (each is a run of its own, on a thread of its own).
  std::future<std::vector<std::string>>
  complete_async(std::string prompt, sampling_params params);
  std::future<std::vector<std::vector<std::string>>>
  complete_batch_async(std::vector<std::string> prompts,
                       sampling_params params);
  std::future<std::vector<std::string>>
  complete_fim_async(std::string prefix, std::string suffix,
                     sampling_params params);
  std::future<std::vector<std::vector<std::string>>> complete_fim_batch_async(
    std::vector<std::pair<std::string, std::string>> pairs,
    sampling_params params);

  /// Runs `plan`, writing job i into outputs[i] (extract, filter, dedupe,
  /// JSONL). Blocks until every job is finished. Throws run_error when the
  /// run cannot go on (e.g. output not writable).
  run_summary run(run_plan plan, const std::vector<job_output>& outputs,
                  const run_options& opts = {});

  /// A plan's dispatch knobs from this client's config (retries, in-flight).
  /// Throws config_error when one request of a job could never fit the
  /// token budget (check_token_budget).
  run_plan make_plan(std::vector<job_spec> jobs) const;

  /// Stops the run going on (or the next one): `now` = false sends nothing
  /// more and lets attempts in flight finish for plan.stop_grace; true
  /// ends it at once. run() then returns a summary marked interrupted.
  /// Safe from any thread.
  void stop(bool now);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// With api.concurrency.tokens_per_minute set: throws config_error (naming
/// the key's file and line) when a job's request sets no max_tokens or
/// reserves more tokens than the whole budget.
void check_token_budget(const api_config& api,
                        const std::vector<job_spec>& jobs);

} // namespace evo
