#include "actors/coordinator/run_series.hpp"

#include <algorithm>
#include <cmath>

namespace evo {

// -- bounded_curve ------------------------------------------------------------

bounded_curve::bounded_curve(size_t cap) : cap_(std::max<size_t>(cap, 4)) {
  // nop
}

void bounded_curve::add(uint64_t x, uint64_t y) {
  last_x_ = x;
  last_y_ = y;
  if (adds_++ % stride_ != 0)
    return;
  if (xs_.size() == cap_) {
    // Full: keep the even points (the first stays), so the held points are
    // again evenly spaced in adds, at twice the stride.
    size_t k = 0;
    for (size_t i = 0; i < xs_.size(); i += 2, ++k) {
      xs_[k] = xs_[i];
      ys_[k] = ys_[i];
    }
    xs_.resize(k);
    ys_.resize(k);
    stride_ *= 2;
    if ((adds_ - 1) % stride_ != 0)
      return;
  }
  xs_.push_back(x);
  ys_.push_back(y);
}

void bounded_curve::export_to(std::vector<uint64_t>& xs,
                              std::vector<uint64_t>& ys) const {
  xs = xs_;
  ys = ys_;
  if (adds_ > 0 && (xs.empty() || xs.back() != last_x_ || ys.back() != last_y_)) {
    xs.push_back(last_x_);
    ys.push_back(last_y_);
  }
}

// -- time_bins ----------------------------------------------------------------

time_bins::time_bins(double first_width_s, size_t cap)
  : width_(first_width_s > 0 ? first_width_s : 0.1),
    cap_(std::max<size_t>(cap, 2)) {
  // nop
}

void time_bins::cover(double t, bool inclusive) {
  t = std::max(t, 0.0);
  auto span = width_ * static_cast<double>(cap_);
  while (inclusive ? t >= span : t > span) {
    // Full: each pair of bins becomes one of twice the width.
    std::vector<bin> merged((bins_.size() + 1) / 2);
    for (size_t i = 0; i < bins_.size(); ++i) {
      auto& m = merged[i / 2];
      m.responses += bins_[i].responses;
      for (size_t k = 0; k < m.retries.size(); ++k)
        m.retries[k] += bins_[i].retries[k];
      m.area += bins_[i].area;
    }
    bins_ = std::move(merged);
    width_ *= 2;
    span = width_ * static_cast<double>(cap_);
  }
  // An event at t lands in bin floor(t / w); an interval ending at t needs
  // the bins up to ceil(t / w) only.
  auto need = inclusive ? static_cast<size_t>(t / width_) + 1
                        : static_cast<size_t>(std::ceil(t / width_));
  need = std::min(std::max<size_t>(need, 1), cap_);
  if (bins_.size() < need)
    bins_.resize(need);
}

time_bins::bin& time_bins::at(double t) {
  cover(t, true);
  t = std::max(t, 0.0);
  return bins_[std::min(static_cast<size_t>(t / width_), bins_.size() - 1)];
}

void time_bins::integrate_to(double t) {
  if (t <= level_since_) {
    level_since_ = std::max(level_since_, t);
    return;
  }
  cover(t, false); // grows (and merges) first: the bins cover [since, t)
  auto from = level_since_;
  for (auto i = std::min(static_cast<size_t>(from / width_), bins_.size() - 1);
       from < t && i < bins_.size(); ++i) {
    auto to = (i + 1 == bins_.size())
                ? t
                : std::min(t, static_cast<double>(i + 1) * width_);
    bins_[i].area += static_cast<double>(level_) * std::max(to - from, 0.0);
    from = std::max(from, to);
  }
  level_since_ = t;
}

void time_bins::response(double t, uint64_t n) {
  at(t).responses += n;
}

void time_bins::retry(double t, failure_kind kind, uint64_t n) {
  auto k = static_cast<size_t>(kind);
  if (k < failure_kind_count)
    at(t).retries[k] += n;
}

void time_bins::level(double t, uint64_t level) {
  integrate_to(t);
  level_ = level;
}

void time_bins::export_to(job_series& out, double end_t) const {
  auto copy = *this;
  copy.integrate_to(end_t);
  copy.cover(end_t, false); // the bins of [0, end_t), at least one
  out.bin_s = copy.width_;
  out.end_s = std::max(end_t, 0.0);
  out.responses.clear();
  out.in_flight.clear();
  out.retries.clear();
  for (size_t i = 0; i < copy.bins_.size(); ++i) {
    auto& b = copy.bins_[i];
    auto start = static_cast<double>(i) * copy.width_;
    auto covered = std::min(copy.width_, out.end_s - start);
    out.responses.push_back(b.responses);
    out.in_flight.push_back(covered > 0 ? b.area / covered : 0.0);
    out.retries.insert(out.retries.end(), b.retries.begin(), b.retries.end());
  }
}

} // namespace evo
