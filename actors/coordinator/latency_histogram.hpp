// Latency percentiles in fixed memory, however long the run: log-scaled
// buckets (128 per power of two, < 0.8 % relative error) from 1 us to
// about 70 minutes. No CAF.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace evo {

class latency_histogram {
public:
  void record(uint32_t micros);
  uint64_t count() const { return count_; }
  /// The p-quantile (0 <= p <= 1) in milliseconds; 0 when empty.
  double quantile_ms(double p) const;

private:
  static constexpr int sub_bits = 7; // 128 buckets per power of two
  static constexpr int powers = 33 - sub_bits;
  static size_t bucket_of(uint32_t micros);
  static double value_of(size_t bucket);

  std::array<uint64_t, (powers + 1) << sub_bits> buckets_{};
  uint64_t count_ = 0;
};

} // namespace evo
