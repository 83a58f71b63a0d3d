#include "actors/writer/richness_estimate.hpp"

#include <cmath>

namespace evo {

void frequency_table::sighting(uint32_t before) {
  if (before == UINT32_MAX)
    return; // a saturated count stays where it is
  if (before > 0)
    --buckets_[bucket_of(before)];
  ++buckets_[bucket_of(before + 1)];
}

uint64_t frequency_table::distinct() const {
  uint64_t d = 0;
  for (auto b : buckets_)
    d += b;
  return d;
}

richness_estimate estimate_richness(uint64_t observed, uint64_t f1, uint64_t f2,
                                    uint64_t n) {
  richness_estimate e;
  if (n == 0 || observed == 0)
    return e;
  const double s = static_cast<double>(observed);
  const double a = static_cast<double>(f1);
  const double b = static_cast<double>(f2);
  const double w = (static_cast<double>(n) - 1.0) / static_cast<double>(n);
  e.p_new = a / static_cast<double>(n);
  double var = 0;
  if (f2 > 0) {
    e.method = "chao1";
    e.value = s + w * a * a / (2.0 * b);
    const double r = a / b;
    var = b * (0.5 * w * r * r + w * w * r * r * r + 0.25 * w * w * r * r * r * r);
  } else {
    e.method = "chao1_bias_corrected";
    e.value = s + w * a * (a - 1.0) / 2.0;
    var = w * a * (a - 1.0) / 2.0 + w * w * a * (2.0 * a - 1.0) * (2.0 * a - 1.0) / 4.0
          - w * w * a * a * a * a / (4.0 * e.value);
    if (var < 0)
      var = 0;
  }
  const double t = e.value - s;
  if (t <= 0) {
    e.low = e.high = s;
    return e;
  }
  const double k = std::exp(1.96 * std::sqrt(std::log(1.0 + var / (t * t))));
  e.low = s + t / k;
  e.high = s + t * k;
  return e;
}

richness_estimate estimate_richness(const frequency_table& t, uint64_t n) {
  return estimate_richness(t.distinct(), t.f(1), t.f(2), n);
}

} // namespace evo
