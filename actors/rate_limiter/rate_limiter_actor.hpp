// Actor shell around token_bucket and token_budget: one per run, gating
// every HTTP attempt by the request rate, the token budget, or both.
#pragma once

#include <deque>
#include <optional>

#include "messages/interfaces.hpp"
#include "actors/rate_limiter/token_budget.hpp"
#include "actors/rate_limiter/token_bucket.hpp"

namespace evo {

/// The rate limiter's own handle: the public interface and its wake-up.
using rate_limiter_impl = rate_limiter_actor::extend<
  // The bucket or the budget may have room again: serve waiting callers
  // (the timer's generation; an older, replaced timer is ignored).
  caf::reacts_to<refill_atom, uint64_t>>;

struct rate_limiter_state {
  static inline const char* name = "rate_limiter";
  /// A caller waiting for tokens: acquire (no reservation) or reserve.
  struct waiter {
    caf::typed_response_promise<uint32_t> acquired;
    caf::typed_response_promise<uint32_t, uint64_t> reserved;
    bool reserves = false;
    uint32_t want = 1;
    uint64_t each = 0; ///< model tokens per request (reserve only)
  };
  std::optional<token_bucket> bucket;  ///< nullopt: no request rate limit
  std::optional<token_budget> budget;  ///< nullopt: no token budget
  std::deque<waiter> waiting;
  bool timer_armed = false;
  uint64_t timer_generation = 0; ///< of the armed timer
  /// When the armed timer's token is due. The timer fires a little late;
  /// refilling at the due time instead of "now" keeps that lateness in the
  /// bucket, so the long-run rate stays exact.
  token_bucket::clock::time_point due;
};

/// `rate` tokens per second (0 = no rate limit), at most `burst` at once;
/// `tokens_per_minute` model tokens in any minute (0 = no budget).
rate_limiter_impl::behavior_type
rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
             double rate, double burst, uint64_t tokens_per_minute);

} // namespace evo
