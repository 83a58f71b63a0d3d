// Latency percentiles in fixed memory, however long the run: log-scaled
// buckets (128 per power of two, < 0.8 % relative error) from 1 us to
// about 70 minutes. No CAF.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace evo {

class latency_histogram {
public:
  void record(uint32_t micros);
  uint64_t count() const { return count_; }
  /// The p-quantile (0 <= p <= 1) in milliseconds; 0 when empty.
  double quantile_ms(double p) const;

  /// The buckets holding a count (index, count), lowest first: what a
  /// report carries so that histograms of several jobs can be merged.
  std::vector<std::pair<uint32_t, uint64_t>> nonzero() const;
  /// Adds `n` values to bucket `b` (an index from nonzero()); out of range
  /// is ignored.
  void add_bucket(size_t b, uint64_t n);
  /// The bounds of bucket `b` in milliseconds: [low, high).
  static double bucket_low_ms(size_t b);
  static double bucket_high_ms(size_t b);

private:
  static constexpr int sub_bits = 7; // 128 buckets per power of two
  static constexpr int powers = 33 - sub_bits;
  static size_t bucket_of(uint32_t micros);
  static double value_of(size_t bucket);
  static double low_of(size_t bucket);
  static double width_of(size_t bucket);

  std::array<uint64_t, (powers + 1) << sub_bits> buckets_{};
  uint64_t count_ = 0;
};

} // namespace evo
