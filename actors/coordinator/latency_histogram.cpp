#include "actors/coordinator/latency_histogram.hpp"

#include <cmath>

namespace evo {

// Values below 2^sub_bits get a bucket each; above, a value with its top
// bit at position e goes to power (e - sub_bits + 1), sub-bucket given by
// the sub_bits bits below the top one.
size_t latency_histogram::bucket_of(uint32_t v) {
  constexpr uint32_t linear = 1u << sub_bits;
  if (v < linear)
    return v;
  int e = 31 - __builtin_clz(v); // top bit, >= sub_bits
  uint32_t sub = (v >> (e - sub_bits)) & (linear - 1);
  return (static_cast<size_t>(e - sub_bits + 1) << sub_bits) | sub;
}

// A bucket above the linear range holds [ (linear + sub) << (e - sub_bits),
// +width ) with width 1 << (e - sub_bits).
double latency_histogram::low_of(size_t b) {
  constexpr size_t linear = size_t{1} << sub_bits;
  if (b < linear)
    return static_cast<double>(b);
  auto power = static_cast<int>(b >> sub_bits); // >= 1
  auto sub = static_cast<double>(b & (linear - 1));
  int e = power + sub_bits - 1;
  return std::ldexp(static_cast<double>(linear) + sub, e - sub_bits);
}

double latency_histogram::width_of(size_t b) {
  constexpr size_t linear = size_t{1} << sub_bits;
  if (b < linear)
    return 1.0;
  auto power = static_cast<int>(b >> sub_bits);
  return std::ldexp(1.0, power - 1);
}

double latency_histogram::value_of(size_t b) {
  if (b < (size_t{1} << sub_bits))
    return static_cast<double>(b);
  return low_of(b) + width_of(b) / 2; // the middle of the bucket
}

std::vector<std::pair<uint32_t, uint64_t>> latency_histogram::nonzero() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (size_t b = 0; b < buckets_.size(); ++b)
    if (buckets_[b] > 0)
      out.emplace_back(static_cast<uint32_t>(b), buckets_[b]);
  return out;
}

void latency_histogram::add_bucket(size_t b, uint64_t n) {
  if (b >= buckets_.size())
    return;
  buckets_[b] += n;
  count_ += n;
}

double latency_histogram::bucket_low_ms(size_t b) {
  return low_of(b) / 1000.0;
}

double latency_histogram::bucket_high_ms(size_t b) {
  return (low_of(b) + width_of(b)) / 1000.0;
}

void latency_histogram::record(uint32_t micros) {
  ++buckets_[bucket_of(micros)];
  ++count_;
}

double latency_histogram::quantile_ms(double p) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_)));
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank)
      return value_of(b) / 1000.0;
  }
  return value_of(buckets_.size() - 1) / 1000.0;
}

} // namespace evo
