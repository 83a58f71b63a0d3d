// Actor shell around token_bucket: one per run, gating every HTTP attempt.
#pragma once

#include <deque>
#include <optional>

#include "messages/interfaces.hpp"
#include "actors/rate_limiter/token_bucket.hpp"

namespace evo {

/// The rate limiter's own handle: the public interface and its wake-up.
using rate_limiter_impl = rate_limiter_actor::extend<
  // The bucket may hold a token again: serve waiting callers.
  caf::reacts_to<refill_atom>>;

struct rate_limiter_state {
  static inline const char* name = "rate_limiter";
  std::optional<token_bucket> bucket;
  std::deque<std::pair<caf::typed_response_promise<uint32_t>, uint32_t>> waiting;
  bool timer_armed = false;
  /// When the armed timer's token is due. The timer fires a little late;
  /// refilling at the due time instead of "now" keeps that lateness in the
  /// bucket, so the long-run rate stays exact.
  token_bucket::clock::time_point due;
};

/// `rate` tokens per second, at most `burst` at once.
rate_limiter_impl::behavior_type
rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
             double rate, double burst);

} // namespace evo
