// The vocabulary that travels between actors (and, later, between nodes).
// Plain structs: no CAF here; their inspect overloads are templates so this
// header stays cheap to include.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace evo {

/// What a job samples: fill-in-the-middle or left-to-right.
enum class job_mode : uint8_t { fim, l2r };
const char* to_string(job_mode m);

/// Which OpenAI endpoint a request goes to (relative to base_url).
enum class endpoint_kind : uint8_t { completions, chat_completions };
const char* endpoint_path(endpoint_kind e); // "/completions", "/chat/completions"

/// One HTTP attempt's worth of work: coordinator -> request actor.
/// The body is built once per job by the coordinator.
struct work_item {
  uint32_t job = 0;
  uint64_t index = 0;   ///< request index within the job
  uint32_t attempt = 0; ///< 0 = first try
  endpoint_kind endpoint = endpoint_kind::completions;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_item& x) {
  return f(x.job, x.index, x.attempt, x.endpoint, x.body);
}

/// Why an attempt failed; the coordinator decides what to do about it.
enum class failure_kind : uint8_t {
  none,        ///< success
  http_status, ///< the server answered with a non-2xx status
  timeout,     ///< no complete answer within timeout_s
  connect,     ///< could not connect / resolve
  transport,   ///< connection reset, truncated transfer, other curl errors
  bad_body,    ///< 2xx but the body is not a completion we can read
  response_too_large, ///< body over api.max_response_bytes: not retried
  interrupted, ///< the run was stopped (signal) before the attempt ended
  certificate, ///< the server's TLS certificate is not trusted: not retried
};
const char* to_string(failure_kind k);

/// The outcome of one attempt: request actor -> coordinator.
struct attempt_result {
  uint32_t job = 0;
  uint64_t index = 0;
  uint32_t attempt = 0;
  failure_kind failure = failure_kind::none;
  int32_t http_status = 0;
  int32_t retry_after_ms = -1; ///< from a Retry-After header; -1 = none
  std::string detail;          ///< short human reason; never holds secrets
  std::vector<std::string> choices; ///< texts, in choice-index order
  std::string model;
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  uint32_t latency_us = 0;
  /// Requests the server may have seen for this attempt (libcurl re-sends
  /// on a reused connection that died); 1 nearly always.
  uint32_t sends = 1;

  bool ok() const { return failure == failure_kind::none; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_result& x) {
  return f(x.job, x.index, x.attempt, x.failure, x.http_status,
           x.retry_after_ms, x.detail, x.choices, x.model, x.prompt_tokens,
           x.completion_tokens, x.latency_us, x.sends);
}

/// Choices of one finished request, for the writer.
struct finished_item {
  uint32_t job = 0;
  uint64_t index = 0;
  std::string model;
  std::vector<std::string> choices;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, finished_item& x) {
  return f(x.job, x.index, x.model, x.choices);
}

/// Requests finished while the writer was busy with the previous batch:
/// coordinator -> writer. Under load one message carries many requests
/// (one hand-off to the writer's thread instead of one per request).
struct write_batch {
  std::vector<finished_item> items;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_batch& x) {
  return f(x.items);
}

/// What the writer did with one request's choices.
struct write_stats {
  uint32_t choices = 0;
  uint32_t kept = 0;
  uint32_t duplicates = 0;
  uint32_t filtered_empty = 0;
  uint32_t filtered_regex = 0;
  uint32_t filtered_weak = 0;
  /// dedupe.canonical: dropped, its canonical key kept under another spelling.
  uint32_t canonical_duplicates = 0;
  uint32_t filtered_excluded = 0; ///< on filters.exclude_names
  uint32_t near_duplicates = 0; ///< free texts too close to a kept one

  /// Choices that passed the filters: new, duplicate or canonical duplicate.
  uint32_t valid() const { return kept + duplicates + canonical_duplicates; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_stats& x) {
  return f(x.choices, x.kept, x.duplicates, x.filtered_empty, x.filtered_regex,
           x.filtered_weak, x.canonical_duplicates, x.filtered_excluded,
           x.near_duplicates);
}

/// A name and how often this run's valid choices held it.
struct name_count {
  std::string name;
  uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, name_count& x) {
  return f(x.name, x.count);
}

/// A job's frequency-of-frequencies after a write: counts[c-1] = names of
/// this run's valid choices seen exactly c times (c = 1..k), counts[k] =
/// names seen more than k times.
struct job_frequencies {
  uint32_t job = 0;
  std::vector<uint64_t> counts;
  /// The most frequent names (name jobs; at most 20), highest count first.
  std::vector<name_count> top;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_frequencies& x) {
  return f(x.job, x.counts, x.top);
}

/// The writer's answer to a write_batch, one entry per item in the same
/// order: writer -> coordinator. The records are on disk (written, not
/// necessarily fsynced) when this arrives.
struct write_report {
  std::vector<write_stats> items;
  /// One entry per job the batch touched (may be empty: a writer that does
  /// not count).
  std::vector<job_frequencies> frequencies;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_report& x) {
  return f(x.items, x.frequencies);
}

/// A request that failed for good: coordinator -> writer (failures.jsonl).
struct failure_record {
  uint32_t job = 0;
  uint64_t index = 0;
  uint32_t attempts = 0;
  int32_t http_status = 0;
  failure_kind failure = failure_kind::none;
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_record& x) {
  return f(x.job, x.index, x.attempts, x.http_status, x.failure, x.reason);
}

/// Where the writer puts a job's output.
struct job_output {
  uint32_t job = 0;
  std::string name;      ///< job name, as the journal records it
  std::string dir;       ///< <out>/<mode or job name>
  std::string mode;      ///< "fim" / "l2r", written into each record
  std::string name_regex;
  std::vector<std::string> weaklist;
  /// Free-text jobs (namegen.extract: text): keep the whole stripped
  /// completion within [min_chars, max_chars] (0 = unbounded); no regex or
  /// weak list.
  bool extract_text = false;
  uint64_t min_chars = 0;
  uint64_t max_chars = 0;
  /// dedupe.canonical: names are one when their words are (is_palindrome,
  /// isPalindrome, IsPalindrome).
  bool canonical = false;
  /// filters.exclude_names: names dropped (name jobs), read from the file.
  std::vector<std::string> exclude_names;
  /// dedupe.near for free-text jobs: 0 = off.
  double near_threshold = 0;
  uint32_t near_shingle = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_output& x) {
  return f(x.job, x.name, x.dir, x.mode, x.name_regex, x.weaklist,
           x.extract_text, x.min_chars, x.max_chars, x.canonical,
           x.exclude_names, x.near_threshold, x.near_shingle);
}

/// Wire protocol version of head <-> worker; a worker refuses a head
/// speaking another one (and the other way round).
constexpr uint32_t cluster_protocol_version = 2;

/// A head asks a worker for its request actors: head -> worker.
/// The version comes first so that even an old peer can read it.
struct worker_join {
  uint32_t protocol_version = cluster_protocol_version;
  std::string model; ///< models.default of the head: the worker's must match
  std::string head;  ///< who asks (--name), for the worker's log
  /// cluster.token of the head; compared in constant time, never logged.
  std::string token;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_join& x) {
  return f(x.protocol_version, x.model, x.head, x.token);
}

} // namespace evo
