// When and whether a failed attempt is tried again. One place for the
// backoff schedule and for what counts as retryable. No CAF.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "messages/work.hpp"

namespace evo {

/// 429, 408, 409, 5xx, timeouts, connection errors and unreadable bodies are
/// worth another try; other 4xx are the client's fault and fail at once.
bool is_retryable(failure_kind kind, int http_status);

/// An error no retry heals and that every other request would meet too: a
/// refused API key (401, 403), a model or endpoint the server does not have
/// (404; 400 saying the model does not exist), an untrusted certificate.
/// Gives "<detail>; fix: <what to change>" (the run stops at once with it);
/// nullopt when the failure may heal or concerns this item only (a worker's
/// refusal of one item stays a failure of that item). A host name that does
/// not resolve is not here: DNS failures are often passing, so they are
/// retried like any connection failure.
std::optional<std::string> unhealing_error(failure_kind kind, int http_status,
                                           std::string_view detail);

class retry_policy {
public:
  /// Backoff before retry k (k = 1 for the first retry) is
  /// base * 2^(k-1), capped at `max`, plus up to `jitter` of it at random.
  retry_policy(int max_retries, std::chrono::milliseconds base,
               std::chrono::milliseconds max, double jitter = 0.25,
               uint64_t seed = std::random_device{}());

  /// True when an item whose attempt number `attempt` (0-based) just failed
  /// this way should be tried again.
  bool should_retry(uint32_t attempt, failure_kind kind, int http_status) const;

  /// Delay before attempt `next_attempt` (>= 1); never less than what the
  /// server asked for in Retry-After (`retry_after_ms` >= 0).
  std::chrono::milliseconds delay(uint32_t next_attempt, int32_t retry_after_ms);

  int max_retries() const { return max_retries_; }

private:
  int max_retries_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  double jitter_;
  std::mt19937_64 rng_;
};

} // namespace evo
