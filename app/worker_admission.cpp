// The worker's admission rules (see worker_admission.hpp).
#include "app/worker_admission.hpp"

#include <nlohmann/json.hpp>

namespace evo {

bool token_equal(const std::string& a, const std::string& b) {
  // Walk the longer of both so the time says nothing about a common prefix.
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]")
    return true;
  // 127.a.b.c with four decimal parts.
  if (host.rfind("127.", 0) != 0)
    return false;
  int parts = 2; // "127" and the one being read
  bool digit = false;
  for (size_t i = 4; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (!digit)
        return false;
      ++parts;
      digit = false;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else {
      return false;
    }
  }
  return digit && parts == 4;
}

// -- head_admission -----------------------------------------------------------

head_admission::head_admission(admission_config cfg) : cfg_(std::move(cfg)) {
  // nop
}

admission head_admission::join(const join_request& r, steady_time now) {
  admission out;
  if (r.protocol_version != cfg_.protocol_version) {
    out.kind = "version";
    out.reason = "protocol version mismatch: head speaks "
                 + std::to_string(r.protocol_version) + ", the worker speaks "
                 + std::to_string(cfg_.protocol_version);
    return out;
  }
  if (!cfg_.token.empty() && !token_equal(r.token, cfg_.token)) {
    out.kind = "token";
    out.reason = "the worker refused the cluster token (cluster.token or "
                 "cluster.token_env must match the worker's)";
    return out;
  }
  if (r.model != cfg_.model) {
    out.kind = "model";
    out.reason = "incompatible config: head asks for model '" + r.model
                 + "', the worker serves '" + cfg_.model + "'";
    return out;
  }
  expire(now);
  if (lease_ && !(lease_->head == r.head && lease_->peer == r.peer)) {
    out.kind = "busy";
    out.reason = "busy, serving head " + lease_->head;
    return out;
  }
  lease_ = lease_t{next_lease_++, r.head, r.peer, now};
  out.accepted = true;
  out.lease = lease_->id;
  return out;
}

bool head_admission::heartbeat(uint64_t lease, steady_time now) {
  if (!lease_ || lease_->id != lease)
    return false;
  lease_->last_seen = now;
  return true;
}

bool head_admission::holds(uint64_t lease, const std::string& peer) const {
  return lease_ && lease_->id == lease && lease_->peer == peer;
}

void head_admission::release_peer(const std::string& peer) {
  if (lease_ && lease_->peer == peer)
    lease_.reset();
}

std::optional<std::string> head_admission::expire(steady_time now) {
  if (!lease_ || now - lease_->last_seen < cfg_.dead_after)
    return std::nullopt;
  auto head = lease_->head;
  lease_.reset();
  return head;
}

std::optional<std::string> head_admission::holder() const {
  if (!lease_)
    return std::nullopt;
  return lease_->head;
}

// -- item limits ----------------------------------------------------------------

std::string check_item(const item_limits& lim, endpoint_kind endpoint,
                       const std::string& body) {
  if (endpoint != endpoint_kind::completions
      && endpoint != endpoint_kind::chat_completions)
    return "endpoint not served by this worker";
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return "the request body is not a JSON object";
  auto model = j.find("model");
  if (model == j.end() || !model->is_string()
      || model->get<std::string>() != lim.model)
    return "the item asks for another model than the worker serves";
  auto int_field = [&](const char* key, int64_t dflt, int64_t& v) {
    auto it = j.find(key);
    if (it == j.end()) {
      v = dflt;
      return true;
    }
    if (!it->is_number_integer())
      return false;
    v = it->get<int64_t>();
    return true;
  };
  int64_t n = 1;
  if (!int_field("n", 1, n) || n < 1 || n > lim.max_n)
    return "n " + (j.contains("n") ? j["n"].dump() : std::string{"1"})
           + " is over the worker's limit " + std::to_string(lim.max_n);
  int64_t tokens = 0;
  if (!int_field("max_tokens", 0, tokens) || tokens < 0
      || tokens > lim.max_tokens)
    return "max_tokens " + j["max_tokens"].dump()
           + " is over the worker's limit " + std::to_string(lim.max_tokens);
  return {};
}

// -- refusal_log ----------------------------------------------------------------

bool refusal_log::should_log(const std::string& head, const std::string& kind,
                             steady_time now, uint64_t& suppressed) {
  // Head names come from unauthenticated peers: bound what they can fill.
  if (seen_.size() >= 1024)
    seen_.clear();
  auto key = std::make_pair(head, kind);
  auto it = seen_.find(key);
  if (it == seen_.end()) {
    seen_.emplace(key, entry{now, 0});
    suppressed = 0;
    return true;
  }
  if (now - it->second.last < every_) {
    ++it->second.suppressed;
    return false;
  }
  suppressed = it->second.suppressed;
  it->second = entry{now, 0};
  return true;
}

} // namespace evo
