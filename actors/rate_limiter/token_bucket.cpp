#include "rate_limiter/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace evo {

token_bucket::token_bucket(double rate_per_s, double burst,
                           clock::time_point now)
  : rate_(rate_per_s), burst_(std::max(1.0, burst)), tokens_(burst_),
    last_(now) {
  // nop
}

void token_bucket::refill(clock::time_point now) {
  if (now <= last_)
    return;
  std::chrono::duration<double> dt = now - last_;
  tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
  last_ = now;
}

uint32_t token_bucket::take(uint32_t max, clock::time_point now) {
  refill(now);
  auto whole = static_cast<uint32_t>(std::floor(tokens_));
  auto n = std::min(whole, max);
  tokens_ -= n;
  return n;
}

token_bucket::clock::duration
token_bucket::time_until_token(clock::time_point now) {
  refill(now);
  if (tokens_ >= 1.0)
    return clock::duration::zero();
  std::chrono::duration<double> wait{(1.0 - tokens_) / rate_};
  // Round up so that waking at now + wait always finds a whole token.
  return std::chrono::ceil<clock::duration>(wait) + clock::duration{1};
}

} // namespace evo
