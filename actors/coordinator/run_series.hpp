// A job's series over the run in bounded memory, for report.html: the
// discovery curve (kept against choices) and time bins (attempts back,
// mean in flight, retries by kind). Both keep at most `cap` points: when
// full, neighbours merge and the step doubles. Plain classes, no CAF.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "messages/series.hpp"
#include "messages/stats.hpp"

namespace evo {

/// Points (x, y) of a growing curve, one per add() until `cap` are held;
/// then every other one goes and only every 2nd (4th, …) add() is kept.
class bounded_curve {
public:
  explicit bounded_curve(size_t cap = 512);
  void add(uint64_t x, uint64_t y);
  /// The held points, then the last one added if it is not among them.
  void export_to(std::vector<uint64_t>& xs, std::vector<uint64_t>& ys) const;
  size_t held() const { return xs_.size(); }

private:
  size_t cap_;
  uint64_t stride_ = 1; ///< adds per held point
  uint64_t adds_ = 0;
  std::vector<uint64_t> xs_, ys_;
  uint64_t last_x_ = 0, last_y_ = 0;
};

/// Events per time bin since the start of the run (t in seconds). Bins
/// start `first_width_s` wide; a time beyond `cap` bins merges each pair
/// of bins and doubles the width.
class time_bins {
public:
  explicit time_bins(double first_width_s = 0.1, size_t cap = 512);
  /// `n` attempts came back at t.
  void response(double t, uint64_t n = 1);
  /// `n` retries of `kind` were decided at t.
  void retry(double t, failure_kind kind, uint64_t n = 1);
  /// The number in flight became `level` at t (it held since the last call).
  void level(double t, uint64_t level);
  /// Bins up to `end_t` (the in-flight level held until then).
  void export_to(job_series& out, double end_t) const;
  double width() const { return width_; }
  size_t bins() const { return bins_.size(); }

private:
  struct bin {
    uint64_t responses = 0;
    std::array<uint64_t, failure_kind_count> retries{};
    double area = 0; ///< in flight × seconds
  };
  /// Bins for an event at t (`inclusive`) or an interval ending at t.
  void cover(double t, bool inclusive);
  bin& at(double t);
  void integrate_to(double t);

  double width_;
  size_t cap_;
  std::vector<bin> bins_;
  uint64_t level_ = 0;
  double level_since_ = 0;
};

} // namespace evo
