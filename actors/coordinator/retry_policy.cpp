#include "actors/coordinator/retry_policy.hpp"

#include <algorithm>

namespace evo {

bool is_retryable(failure_kind kind, int http_status) {
  switch (kind) {
    case failure_kind::none:
      return false;
    case failure_kind::http_status:
      return http_status == 408 || http_status == 409 || http_status == 429
             || http_status >= 500;
    case failure_kind::timeout:
    case failure_kind::connect:
    case failure_kind::transport:
    case failure_kind::bad_body:
      return true;
    case failure_kind::response_too_large:
    case failure_kind::interrupted:
      return false;
  }
  return false;
}

retry_policy::retry_policy(int max_retries, std::chrono::milliseconds base,
                           std::chrono::milliseconds max, double jitter,
                           uint64_t seed)
  : max_retries_(max_retries), base_(base), max_(max), jitter_(jitter),
    rng_(seed) {
  // nop
}

bool retry_policy::should_retry(uint32_t attempt, failure_kind kind,
                                int http_status) const {
  return static_cast<int>(attempt) < max_retries_
         && is_retryable(kind, http_status);
}

std::chrono::milliseconds retry_policy::delay(uint32_t next_attempt,
                                              int32_t retry_after_ms) {
  auto shift = std::min<uint32_t>(next_attempt > 0 ? next_attempt - 1 : 0, 30);
  auto backoff = std::min<int64_t>(base_.count() * (int64_t{1} << shift),
                                   max_.count());
  std::uniform_real_distribution<double> dist(0.0, jitter_);
  auto jittered = backoff + static_cast<int64_t>(backoff * dist(rng_));
  return std::chrono::milliseconds{
    std::max<int64_t>(jittered, retry_after_ms)};
}

} // namespace evo
