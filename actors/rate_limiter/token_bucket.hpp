// Token bucket: `rate` tokens per second, at most `burst` stored, plus a
// sliding-window guard: no (1 s + margin) window ever holds more than
// floor(rate + burst) grants. The guard costs nothing in steady state; it
// keeps grants that come late (a late timer) from bunching, and its margin
// absorbs jitter on the way to the server, so the server's own one-second
// windows stay within rate + burst too. Time is passed in, so tests drive
// it with an injected clock. No CAF.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace evo {

class token_bucket {
public:
  using clock = std::chrono::steady_clock;

  /// Jitter between a grant and its arrival that the window guard absorbs.
  static constexpr std::chrono::milliseconds default_margin{5};

  /// Starts full (`burst` tokens available at `now`).
  token_bucket(double rate_per_s, double burst, clock::time_point now,
               clock::duration margin = default_margin);

  /// Takes up to `max` whole tokens available at `now`; returns how many.
  uint32_t take(uint32_t max, clock::time_point now);

  /// Time from `now` until one whole token is available (zero if one is).
  clock::duration time_until_token(clock::time_point now);

  double rate() const { return rate_; }
  double burst() const { return burst_; }

private:
  void refill(clock::time_point now);
  /// When the window guard lets the next grant go (<= now if it does).
  clock::time_point window_opens() const;

  std::vector<clock::time_point> grants_; ///< ring of the latest grants
  size_t oldest_ = 0;                     ///< next slot to overwrite
  clock::duration window_;
  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

} // namespace evo
