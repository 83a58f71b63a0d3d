#include "actors/coordinator/retry_policy.hpp"

#include <algorithm>
#include <cctype>

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
    case failure_kind::certificate:
      return false;
  }
  return false;
}

namespace {

bool says_model_missing(std::string_view detail) {
  std::string s(detail);
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.find("model") == std::string::npos)
    return false;
  for (const char* p : {"does not exist", "not found", "not exist",
                        "unknown model", "no such model", "not served"})
    if (s.find(p) != std::string::npos)
      return true;
  return false;
}

} // namespace

std::optional<std::string> unhealing_error(failure_kind kind, int http_status,
                                           std::string_view detail) {
  std::string fix;
  if (kind == failure_kind::certificate) {
    fix = "the server's TLS certificate is not trusted: give the CA that "
          "signed it in api.ca_file, or fix the server's certificate";
  } else if (kind != failure_kind::http_status) {
    return std::nullopt;
  } else if (http_status == 401) {
    fix = "the server refused the API key: check api.api_key / "
          "api.api_key_env (the variable it names must hold the key)";
  } else if (http_status == 403) {
    if (detail.find("refused by worker") != std::string_view::npos)
      return std::nullopt; // a worker's limit on this item
    fix = "the server does not let this key use this model or endpoint: "
          "check api.api_key / api.api_key_env and models.default";
  } else if ((http_status == 404 || http_status == 400)
             && says_model_missing(detail)) {
    fix = "the server does not serve this model: set models.default to a "
          "model it lists at GET <api.base_url>/models";
  } else if (http_status == 404) {
    fix = "the server has no such endpoint: check api.base_url (the API "
          "root, e.g. http://host:8000/v1; /v1 is appended when missing)";
  } else {
    return std::nullopt;
  }
  return std::string(detail) + "; fix: " + fix;
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
