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
  knee_ = limit_;
  window_start_ = now;
  record(now);
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
  auto cut = clamp_limit(std::floor(static_cast<double>(limit_) * cfg_.backoff),
                         cfg_);
  // The cut is the new cruise limit: the knee below it by the headroom.
  phase_ = phase::cruise;
  knee_ = clamp_limit(static_cast<double>(cut) / (1 + cfg_.headroom), cfg_);
  have_ref_ = false;
  cruised_ = 0;
  probes_ = 0;
  step_ = cfg_.step;
  set_limit(now, cut);
}

void concurrency_limit::on_refused(double now, double retry_after_s,
                                   size_t in_flight) {
  on_overload(now, retry_after_s);
  auto cap = clamp_limit(static_cast<double>(in_flight), cfg_);
  if (cap >= limit_)
    return;
  knee_ = std::min(
    knee_, clamp_limit(static_cast<double>(cap) / (1 + cfg_.headroom), cfg_));
  set_limit(now, cap);
}

size_t concurrency_limit::cruise_limit() const {
  auto k = static_cast<double>(knee_);
  return clamp_limit(std::max(k, std::ceil(k * (1 + cfg_.headroom))), cfg_);
}

void concurrency_limit::cruise_from(double now, size_t knee) {
  phase_ = phase::cruise;
  knee_ = knee;
  cruised_ = 0;
  set_limit(now, cruise_limit());
}

void concurrency_limit::probe(double now, phase p) {
  cruised_ = 0;
  auto l = static_cast<double>(p == phase::probe_up ? limit_ : knee_);
  auto next = p == phase::probe_up
                ? clamp_limit(std::max(l + 1, std::ceil(l * (1 + cfg_.up_step))), cfg_)
                : clamp_limit(std::min(l - 1, std::floor(l * (1 - step_))), cfg_);
  bool moves = p == phase::probe_up ? next > limit_ : next < knee_;
  if (!moves) {
    // At the ceiling or the floor: nothing to learn that way.
    phase_ = phase::cruise;
    set_limit(now, limit_);
    return;
  }
  phase_ = p;
  set_limit(now, next);
}

void concurrency_limit::evaluate(double now) {
  auto rate = work_ / std::max(now - window_start_, 1e-9);
  bool held = now < hold_until_;
  if (held && phase_ != phase::probe_down) {
    // The server asked for a pause (Retry-After): measure after it.
    have_ref_ = false;
    if (phase_ == phase::probe_up || phase_ == phase::slow_start)
      cruise_from(now, knee_);
    else
      set_limit(now, limit_);
    return;
  }
  if (peak_in_flight_ < limit_) {
    // The limit was never reached (too little work, or a smaller pool):
    // the window says nothing about it. A raise is not taken up.
    if (phase_ == phase::probe_up) {
      cruise_from(now, knee_);
    } else if (phase_ == phase::slow_start && have_prev_) {
      have_ref_ = false;
      cruise_from(now, prev_limit_);
    } else {
      set_limit(now, limit_);
    }
    return;
  }
  switch (phase_) {
    case phase::slow_start: {
      if (have_prev_ && rate < prev_rate_ * (1 + cfg_.slow_start_gain)) {
        // Doubling did not pay: the knee is at the last limit or a little
        // above it.
        have_ref_ = false;
        cruise_from(now, prev_limit_);
        return;
      }
      have_prev_ = true;
      prev_limit_ = limit_;
      prev_rate_ = rate;
      auto next = clamp_limit(2.0 * static_cast<double>(limit_), cfg_);
      if (next == limit_) {
        knee_ = limit_;
        phase_ = phase::cruise;
      }
      set_limit(now, next);
      return;
    }
    case phase::cruise: {
      if (!have_ref_) {
        have_ref_ = true;
        ref_rate_ = rate;
        set_limit(now, limit_);
        return;
      }
      // Much less at the same limit: the server changed (another tenant
      // came); its knee may be lower now: probe below at once.
      if (rate < ref_rate_ * (1 - 2 * cfg_.tolerance)) {
        ref_rate_ = rate;
        step_ = cfg_.step;
        probe(now, phase::probe_down);
        return;
      }
      ref_rate_ = (ref_rate_ + rate) / 2;
      if (++cruised_ < cfg_.cruise_windows) {
        set_limit(now, limit_);
        return;
      }
      // Probe above twice, then below: above to find capacity that came
      // back (costs a little latency), below to follow a knee that moved
      // down (costs throughput for a window).
      probe(now, ++probes_ % 3 != 0 ? phase::probe_up : phase::probe_down);
      return;
    }
    case phase::probe_down: {
      if (rate >= ref_rate_ * (1 - cfg_.tolerance)) {
        // As much with fewer in flight: the knee is at most here. On
        // down, faster.
        knee_ = limit_;
        step_ = std::min(cfg_.max_step, step_ * 1.5);
        probe(now, phase::probe_down);
        return;
      }
      step_ = cfg_.step;
      cruise_from(now, knee_);
      return;
    }
    case phase::probe_up: {
      if (rate >= ref_rate_ * (1 + cfg_.slow_start_gain)) {
        // Much more: capacity came back, or the limit is far below the
        // knee: double as in slow start.
        knee_ = limit_;
        phase_ = phase::slow_start;
        have_prev_ = true;
        prev_limit_ = limit_;
        prev_rate_ = rate;
        auto next = clamp_limit(2.0 * static_cast<double>(limit_), cfg_);
        if (next == limit_)
          cruise_from(now, knee_);
        else
          set_limit(now, next);
        return;
      }
      if (rate > ref_rate_ * (1 + cfg_.tolerance)) {
        // More in flight paid: the knee is at least here. On up.
        ref_rate_ = rate;
        knee_ = limit_;
        probe(now, phase::probe_up);
        return;
      }
      cruise_from(now, knee_);
      return;
    }
  }
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
  append_thinned(series_, now - start_, as_u32(limit_), cfg_.series_points);
}

void append_thinned(std::vector<std::pair<double, uint32_t>>& series, double t,
                    uint32_t value, size_t points) {
  series.emplace_back(t, value);
  auto cap = std::max<size_t>(2, points);
  if (series.size() < 2 * cap)
    return;
  // Thin to every other point, keeping the first and the newest, so a
  // long run keeps its whole shape in bounded memory.
  std::vector<std::pair<double, uint32_t>> kept;
  kept.reserve(cap + 1);
  for (size_t i = 0; i + 1 < series.size(); i += 2)
    kept.push_back(series[i]);
  kept.push_back(series.back());
  series.swap(kept);
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
