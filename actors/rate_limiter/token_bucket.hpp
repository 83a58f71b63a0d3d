// Token bucket: `rate` tokens per second, at most `burst` stored. Time is
// passed in, so tests drive it with an injected clock. No CAF.
#pragma once

#include <chrono>
#include <cstdint>

namespace evo {

class token_bucket {
public:
  using clock = std::chrono::steady_clock;

  /// Starts full (`burst` tokens available at `now`).
  token_bucket(double rate_per_s, double burst, clock::time_point now);

  /// Takes up to `max` whole tokens available at `now`; returns how many.
  uint32_t take(uint32_t max, clock::time_point now);

  /// Time from `now` until one whole token is available (zero if one is).
  clock::duration time_until_token(clock::time_point now);

  double rate() const { return rate_; }
  double burst() const { return burst_; }

private:
  void refill(clock::time_point now);

  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

} // namespace evo
