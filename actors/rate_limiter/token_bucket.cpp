#include "actors/rate_limiter/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace evo {

token_bucket::token_bucket(double rate_per_s, double burst,
                           clock::time_point now, clock::duration margin)
  : rate_(rate_per_s), burst_(std::max(1.0, burst)), tokens_(burst_),
    last_(now), window_(std::chrono::seconds(1) + margin) {
  // At most this many grants in any window; capped to keep memory small at
  // absurd rates (the bucket alone still holds them there).
  auto cap = std::min(std::floor(rate_ + burst_), double{1 << 20});
  grants_.assign(static_cast<size_t>(std::max(1.0, cap)),
                 clock::time_point::min());
}

token_bucket::clock::time_point token_bucket::window_opens() const {
  auto oldest = grants_[oldest_];
  return oldest == clock::time_point::min() ? oldest : oldest + window_;
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
  uint32_t granted = 0;
  while (granted < n && window_opens() <= now) {
    grants_[oldest_] = now;
    oldest_ = (oldest_ + 1) % grants_.size();
    ++granted;
  }
  tokens_ -= granted;
  return granted;
}

token_bucket::clock::duration
token_bucket::time_until_token(clock::time_point now) {
  refill(now);
  clock::duration wait{0};
  if (tokens_ < 1.0) {
    std::chrono::duration<double> secs{(1.0 - tokens_) / rate_};
    // Round up so that waking at now + wait always finds a whole token.
    wait = std::chrono::ceil<clock::duration>(secs) + clock::duration{1};
  }
  auto opens = window_opens();
  if (opens > now + wait)
    wait = opens - now;
  return wait;
}

} // namespace evo
