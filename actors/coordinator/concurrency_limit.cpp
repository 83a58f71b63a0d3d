#include "actors/coordinator/concurrency_limit.hpp"

#include <algorithm>
#include <cmath>

namespace evo {

namespace {

size_t clamp_limit(double v, const concurrency_limit_config& cfg) {
  auto lo = std::max<size_t>(1, cfg.floor);
  auto hi = std::max(lo, cfg.ceiling);
  if (!(v >= static_cast<double>(lo)))
    return lo;
  if (v >= static_cast<double>(hi))
    return hi;
  return static_cast<size_t>(v);
}

// A ceiling of SIZE_MAX (worker nodes without a semaphore) shows as the
// largest 32-bit number.
uint32_t as_u32(size_t v) {
  return static_cast<uint32_t>(std::min<size_t>(v, UINT32_MAX));
}

} // namespace

concurrency_limit::concurrency_limit(concurrency_limit_config cfg, double now)
  : cfg_(cfg),
    start_(now),
    limit_(clamp_limit(static_cast<double>(cfg.initial), cfg)),
    step_(cfg.step),
    min_seen_(limit_),
    max_seen_(limit_) {
  window_start_ = now;
  record(now);
}

size_t concurrency_limit::lowest() const {
  return clamp_limit(0, cfg_);
}

void concurrency_limit::on_sent(size_t in_flight) {
  peak_in_flight_ = std::max(peak_in_flight_, in_flight);
}

void concurrency_limit::on_success(double now, uint64_t tokens,
                                   double latency_s) {
  if (latency_s > 0)
    srtt_ = srtt_ == 0 ? latency_s : 0.9 * srtt_ + 0.1 * latency_s;
  if (now < window_start_)
    return; // sent under an earlier limit
  work_ += tokens > 0 ? static_cast<double>(tokens) : 1.0;
  ++samples_;
  // Slow start's doublings change the throughput a lot: a quarter of the
  // window tells them apart.
  bool quick = phase_ == phase::slow_start;
  auto length = std::max(quick ? cfg_.window_s / 4 : cfg_.window_s, 2 * srtt_);
  auto enough = quick ? (cfg_.window_samples + 1) / 2 : cfg_.window_samples;
  if (samples_ >= enough && now - window_start_ >= length)
    evaluate(now);
}

void concurrency_limit::on_overload(double now, double retry_after_s) {
  if (retry_after_s > 0)
    hold_until_ = std::max(hold_until_, now + retry_after_s);
  // Answers to attempts sent before the last decrease say nothing about
  // the decreased limit: one decrease per smoothed latency (as TCP halves
  // once per window), so a burst of 503s does not collapse the limit.
  if (now - last_decrease_ < std::max(srtt_, 0.05))
    return;
  last_decrease_ = now;
  phase_ = phase::probing;
  have_prev_ = false;
  lost_before_ = false;
  downs_ = 0;
  dir_ = -1;
  step_ = cfg_.step;
  set_limit(now,
            clamp_limit(std::floor(static_cast<double>(limit_) * cfg_.backoff),
                        cfg_));
}

void concurrency_limit::evaluate(double now) {
  auto rate = work_ / std::max(now - window_start_, 1e-9);
  if (now < hold_until_) {
    // The server asked for a pause (Retry-After): measure after it.
    have_prev_ = false;
    set_limit(now, limit_);
    return;
  }
  if (peak_in_flight_ < limit_) {
    // The limit was never reached (too little work, or a smaller pool):
    // the window says nothing about it; measure again.
    set_limit(now, limit_);
    return;
  }
  if (phase_ == phase::slow_start) {
    if (have_prev_ && rate < prev_rate_ * (1 + cfg_.slow_start_gain)) {
      // Doubling did not pay: back to the last limit, then probe.
      phase_ = phase::probing;
      have_prev_ = false;
      dir_ = -1;
      set_limit(now, prev_limit_);
      return;
    }
    have_prev_ = true;
    prev_limit_ = limit_;
    prev_rate_ = rate;
    auto next = clamp_limit(2.0 * static_cast<double>(limit_), cfg_);
    if (next == limit_)
      phase_ = phase::probing;
    set_limit(now, next);
    return;
  }
  // The best throughput seen lately: a window far below it means the
  // server changed (capacity taken by another tenant), not the limit.
  if (!have_prev_ || rate > best_rate_ || rate < best_rate_ * 0.7) {
    best_rate_ = rate;
    best_limit_ = limit_;
  }
  bool lost = rate < best_rate_ * (1 - cfg_.tolerance);
  if (lost && (lost_before_ || limit_ == best_limit_)) {
    // Below the best at the best's own limit: the server changed, this is
    // its best now.
    best_rate_ = rate;
    best_limit_ = limit_;
    lost = false;
  }
  lost_before_ = lost;
  if (!lost && limit_ < best_limit_)
    best_limit_ = limit_; // the fewest in flight that gave the best so far
  if (lost) {
    // Throughput lost: the last moves went the wrong way; back to where
    // the best was, then probe from there.
    dir_ = best_limit_ > limit_ ? 1 : -1;
    step_ = cfg_.step;
    downs_ = 0;
    have_prev_ = false; // the way back is no probe: it does not "pay"
    set_limit(now, best_limit_);
    return;
  }
  if (have_prev_) {
    if (dir_ > 0 && rate > prev_rate_ * (1 + cfg_.tolerance)) {
      // Going up paid: on, faster.
      step_ = std::min(cfg_.max_step, step_ * 1.5);
      downs_ = 0;
    } else {
      // The best throughput, no gain from the last move: fewer in flight
      // give it with less latency (past the knee, more in flight only
      // queue), so step down, gently: below the knee throughput is lost,
      // above it only a little latency is added. Steps down grow while
      // nothing is lost (the capacity dropped). At the floor, the only
      // way to learn more is up.
      dir_ = limit_ > lowest() ? -1 : 1;
      step_ = dir_ < 0 ? std::min(cfg_.max_step,
                                  cfg_.step / 2 * std::pow(1.5, downs_++))
                       : cfg_.step;
    }
  }
  have_prev_ = true;
  prev_limit_ = limit_;
  prev_rate_ = rate;
  move(now, dir_);
}

void concurrency_limit::move(double now, int dir) {
  auto l = static_cast<double>(limit_);
  double next = dir > 0 ? std::max(l + 1, std::ceil(l * (1 + step_)))
                        : std::min(l - 1, std::floor(l * (1 - step_)));
  auto clamped = clamp_limit(next, cfg_);
  if (clamped == limit_)
    dir_ = -dir; // at the floor or the ceiling: probe the other way next
  set_limit(now, clamped);
}

void concurrency_limit::set_limit(double now, size_t next) {
  bool changed = next != limit_;
  limit_ = next;
  min_seen_ = std::min(min_seen_, limit_);
  max_seen_ = std::max(max_seen_, limit_);
  window_start_ = now + srtt_;
  work_ = 0;
  samples_ = 0;
  peak_in_flight_ = 0;
  if (changed)
    record(now);
}

void concurrency_limit::record(double now) {
  series_.emplace_back(now - start_, as_u32(limit_));
  auto cap = std::max<size_t>(2, cfg_.series_points);
  if (series_.size() < 2 * cap)
    return;
  // Thin to every other point, keeping the first and the newest, so a
  // long run keeps its whole shape in bounded memory.
  std::vector<std::pair<double, uint32_t>> kept;
  kept.reserve(cap + 1);
  for (size_t i = 0; i + 1 < series_.size(); i += 2)
    kept.push_back(series_[i]);
  kept.push_back(series_.back());
  series_.swap(kept);
}

concurrency_trace concurrency_limit::trace() const {
  concurrency_trace t;
  t.min = as_u32(min_seen_);
  t.max = as_u32(max_seen_);
  t.final = as_u32(limit_);
  t.series = series_;
  return t;
}

} // namespace evo
