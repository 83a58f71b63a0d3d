// Actor shell around token_bucket: one per run, gating every HTTP attempt.
#pragma once

#include <deque>
#include <optional>

#include "messages/interfaces.hpp"
#include "rate_limiter/token_bucket.hpp"

namespace evo {

struct rate_limiter_state {
  static inline const char* name = "rate_limiter";
  std::optional<token_bucket> bucket;
  std::deque<std::pair<caf::typed_response_promise<uint32_t>, uint32_t>> waiting;
  bool timer_armed = false;
};

/// `rate` tokens per second, at most `burst` at once.
rate_limiter_actor::behavior_type
rate_limiter(rate_limiter_actor::stateful_pointer<rate_limiter_state> self,
             double rate, double burst);

} // namespace evo
