// Per-job statistics the coordinator accumulates and returns at the end of a
// run. Plain structs; rendered by app/ as log lines, a table and report.json.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "messages/series.hpp"
#include "messages/work.hpp"

namespace evo {

constexpr size_t failure_kind_count = 6;

struct job_stats {
  std::string name;
  std::string mode;
  uint64_t planned = 0;  ///< work items in the plan (target jobs: issued)
  uint64_t target_unique = 0; ///< 0 = a num_batches job
  uint64_t resumed_items = 0; ///< finished by an earlier run, not re-sent
  uint64_t resumed_kept = 0;  ///< names the folder held before this run
  uint64_t done = 0;     ///< work items whose choices are written
  uint64_t failed = 0;   ///< work items recorded in failures.jsonl
  uint64_t attempts = 0; ///< HTTP attempts, retries included
  std::array<uint64_t, failure_kind_count> retries_by_kind{}; ///< by failure_kind
  uint64_t choices = 0;
  uint64_t kept = 0;
  uint64_t duplicates = 0;
  uint64_t filtered_empty = 0;
  uint64_t filtered_regex = 0;
  uint64_t filtered_weak = 0;
  uint64_t canonical_duplicates = 0; ///< dedupe.canonical
  uint64_t filtered_excluded = 0;    ///< filters.exclude_names
  /// f1..fk, then names seen more than k times (job_frequencies::counts):
  /// this run's valid choices only.
  std::vector<uint64_t> frequency_of_frequencies;
  /// Why the job ended: budget, target, saturation, interrupted, aborted
  /// ("" while it runs).
  std::string stopped_by;
  uint64_t stopped_at_choices = 0; ///< choices sampled when it stopped
  uint64_t near_duplicates = 0; ///< dedupe.near
  /// The most frequent names of this run (job_frequencies::top).
  std::vector<name_count> top_names;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double latency_p99_ms = 0;
  double wall_s = 0;
  job_series series; ///< over time, for report.html (not merged in totals)

  /// Counts what the writer did with one request's choices.
  void add(const write_stats& ws) {
    choices += ws.choices;
    kept += ws.kept;
    duplicates += ws.duplicates;
    filtered_empty += ws.filtered_empty;
    filtered_regex += ws.filtered_regex;
    filtered_weak += ws.filtered_weak;
    canonical_duplicates += ws.canonical_duplicates;
    filtered_excluded += ws.filtered_excluded;
    near_duplicates += ws.near_duplicates;
  }

  /// Choices that passed the filters (new or not).
  uint64_t valid() const { return kept + duplicates + canonical_duplicates; }

  /// Adds another job's counters (for totals; latencies are not summed).
  void merge(const job_stats& o) {
    planned += o.planned;
    done += o.done;
    failed += o.failed;
    attempts += o.attempts;
    for (size_t k = 0; k < retries_by_kind.size(); ++k)
      retries_by_kind[k] += o.retries_by_kind[k];
    choices += o.choices;
    kept += o.kept;
    duplicates += o.duplicates;
    filtered_empty += o.filtered_empty;
    filtered_regex += o.filtered_regex;
    filtered_weak += o.filtered_weak;
    canonical_duplicates += o.canonical_duplicates;
    filtered_excluded += o.filtered_excluded;
    near_duplicates += o.near_duplicates;
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    resumed_items += o.resumed_items;
    resumed_kept += o.resumed_kept;
  }

  uint64_t retries() const {
    uint64_t r = 0;
    for (auto x : retries_by_kind)
      r += x;
    return r;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_stats& x) {
  return f(x.name, x.mode, x.planned, x.target_unique, x.resumed_items,
           x.resumed_kept, x.done, x.failed, x.attempts,
           x.retries_by_kind, x.choices, x.kept, x.duplicates,
           x.filtered_empty, x.filtered_regex, x.filtered_weak,
           x.prompt_tokens, x.completion_tokens, x.latency_p50_ms,
           x.latency_p95_ms, x.latency_p99_ms, x.wall_s,
           x.canonical_duplicates, x.filtered_excluded,
           x.frequency_of_frequencies, x.stopped_by, x.stopped_at_choices,
           x.near_duplicates, x.series, x.top_names);
}

/// The adaptive in-flight limit of a run (api.concurrency.adaptive):
/// smallest, largest and last value, and its history as (seconds since the
/// start, limit) at each change, thinned to a bounded size.
/// One node's own adaptive limit (the head's pool or a worker node):
/// the same as concurrency_trace, times since the run's start.
struct node_trace {
  std::string node;     ///< "local" or the worker's host:port
  std::string base_url; ///< its model server (userinfo redacted)
  uint32_t min = 0;
  uint32_t max = 0;
  uint32_t final = 0;
  std::vector<std::pair<double, uint32_t>> series;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_trace& x) {
  return f(x.node, x.base_url, x.min, x.max, x.final, x.series);
}

/// With one limit per node, min/max/final/series are of their sum and
/// `nodes` holds each node's own (a node that left and joined again twice).
struct concurrency_trace {
  uint32_t min = 0;
  uint32_t max = 0;
  uint32_t final = 0;
  std::vector<std::pair<double, uint32_t>> series;
  std::vector<node_trace> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, concurrency_trace& x) {
  return f(x.min, x.max, x.final, x.series, x.nodes);
}

struct run_summary {
  std::vector<job_stats> jobs;
  double wall_s = 0;
  /// Stopped on request (a signal) before every job finished.
  bool interrupted = false;
  /// Why the run could not go on ("" = it did not abort).
  std::string aborted;
  /// Token budget (api.concurrency.tokens_per_minute; 0 = none): tokens
  /// reserved before requests went, and used by their answers (usage).
  uint64_t tokens_per_minute = 0;
  uint64_t tokens_reserved = 0;
  uint64_t tokens_used = 0;
  /// The largest n the server takes, as learned in the run (0 = no cap
  /// seen), and what the run did about it (one line each).
  uint32_t server_max_n = 0;
  std::vector<std::string> notes;
  /// The adaptive limit; empty series = the run's limit was fixed.
  concurrency_trace concurrency;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_summary& x) {
  return f(x.jobs, x.wall_s, x.interrupted, x.aborted, x.tokens_per_minute,
           x.tokens_reserved, x.tokens_used, x.server_max_n, x.notes,
           x.concurrency);
}

} // namespace evo
