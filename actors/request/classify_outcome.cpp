// Classification of one attempt's outcome (transport error, HTTP status,
// body) into an attempt_result whose reason is safe server text.
#include "actors/request/openai_protocol.hpp"

#include <nlohmann/json.hpp>

#include "actors/request/server_text.hpp"

namespace evo {

using nlohmann::json;

std::string error_summary(std::string_view body,
                          const std::vector<std::string>& secrets) {
  // Redacted before parsing (the secret as sent) and after (as unescaped
  // from JSON), both before the excerpt could cut a secret in half.
  std::string scrubbed = redact_secrets(body, secrets);
  auto doc = json::parse(scrubbed.begin(), scrubbed.end(), nullptr, false);
  if (!doc.is_discarded() && doc.is_object()) {
    auto message = [&](const json& j) {
      return excerpt(redact_secrets(j.get<std::string>(), secrets));
    };
    auto err = doc.find("error");
    if (err != doc.end()) {
      if (err->is_string())
        return message(*err);
      if (err->is_object()) {
        auto msg = err->find("message");
        if (msg != err->end() && msg->is_string())
          return message(*msg);
      }
    }
    if (auto msg = doc.find("message"); msg != doc.end() && msg->is_string())
      return message(*msg);
  }
  return excerpt(scrubbed);
}

namespace {

failure_kind failure_of(transport_error e) {
  switch (e) {
    case transport_error::none: return failure_kind::none;
    case transport_error::timeout: return failure_kind::timeout;
    case transport_error::connect: return failure_kind::connect;
    case transport_error::too_large: return failure_kind::response_too_large;
    case transport_error::certificate: return failure_kind::certificate;
    default: return failure_kind::transport;
  }
}

attempt_result classify_raw(const work_item& item, const http_outcome& outcome,
                            const std::vector<std::string>& secrets) {
  attempt_result r;
  r.job = item.job;
  r.index = item.index;
  r.attempt = item.attempt;
  r.http_status = static_cast<int32_t>(outcome.status);
  r.retry_after_ms = outcome.retry_after_ms;
  r.latency_us = outcome.latency_us;
  r.sends = outcome.sends;
  if (outcome.error != transport_error::none) {
    r.failure = failure_of(outcome.error);
    r.detail = outcome.error_text;
    return r;
  }
  if (outcome.status < 200 || outcome.status >= 300) {
    r.failure = failure_kind::http_status;
    r.detail = "HTTP " + std::to_string(outcome.status) + ": "
               + error_summary(outcome.body, secrets);
    return r;
  }
  parsed_completion parsed;
  std::optional<std::string> err;
  if (outcome.body.rfind("data:", 0) == 0)
    err = parse_sse_completion(outcome.body, parsed);
  else
    err = parse_completion(outcome.body, parsed);
  if (err) {
    r.failure = failure_kind::bad_body;
    r.detail = std::move(*err);
    if (!secrets.empty()) {
      // The reason may quote the body, cut short: find it again in a body
      // with the secrets already gone.
      auto scrubbed = redact_secrets(outcome.body, secrets);
      parsed_completion again;
      auto err2 = scrubbed.rfind("data:", 0) == 0
                    ? parse_sse_completion(scrubbed, again)
                    : parse_completion(scrubbed, again);
      if (err2)
        r.detail = std::move(*err2);
    }
    return r;
  }
  r.choices = std::move(parsed.choices);
  r.model = std::move(parsed.model);
  r.prompt_tokens = parsed.prompt_tokens;
  r.completion_tokens = parsed.completion_tokens;
  return r;
}

} // namespace

attempt_result classify_outcome(const work_item& item,
                                const http_outcome& outcome,
                                const std::vector<std::string>& secrets) {
  auto r = classify_raw(item, outcome, secrets);
  if (!r.detail.empty())
    r.detail = safe_server_text(r.detail, secrets);
  return r;
}

} // namespace evo
