// How many distinct names a job's prompt and sampling are good for, from how
// often each name was seen: the frequency-of-frequencies (f1 names seen
// once, f2 twice, ...), kept up to date one sighting at a time, and the
// estimates built on it (Chao1 with its log-normal 95 % interval, and
// Good-Turing's unseen mass). No CAF, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace evo {

/// f1..fk and one bucket for "more than k times": a fixed k + 1 counters,
/// whatever the counts reach.
class frequency_table {
public:
  /// The default cap: f1..f10, then ">10".
  static constexpr uint32_t default_k = 10;

  explicit frequency_table(uint32_t k = default_k) : buckets_(k + 1, 0) {
    // nop
  }

  /// A name seen `before` times is seen once more: it moves from f_before
  /// to f_(before+1) (before = 0: a new name joins f1).
  void sighting(uint32_t before);

  uint32_t k() const { return static_cast<uint32_t>(buckets_.size() - 1); }
  /// f_c for c in 1..k; 0 otherwise.
  uint64_t f(uint32_t c) const {
    return c >= 1 && c <= k() ? buckets_[c - 1] : 0;
  }
  /// Names seen more than k times.
  uint64_t above_k() const { return buckets_.back(); }
  /// Distinct names seen (the sum of all buckets).
  uint64_t distinct() const;
  /// The counters as job_frequencies::counts holds them.
  const std::vector<uint64_t>& buckets() const { return buckets_; }

private:
  size_t bucket_of(uint32_t c) const {
    return c <= k() ? c - 1 : buckets_.size() - 1;
  }

  std::vector<uint64_t> buckets_;
};

/// An estimate of the number of distinct names there are to be had.
struct richness_estimate {
  double value = 0;  ///< estimated distinct names (>= observed)
  double low = 0;    ///< 95 % interval
  double high = 0;
  /// "chao1" (f2 > 0), "chao1_bias_corrected" (f2 = 0), "none" (no sample)
  std::string method = "none";
  /// Good-Turing: f1 / n, the probability that the next valid choice is a
  /// name not seen yet.
  double p_new = 0;
};

/// Chao1 from `observed` distinct names, f1, f2 and n valid choices:
///   f2 > 0: S = observed + (n-1)/n * f1^2 / (2 f2)
///   f2 = 0: S = observed + (n-1)/n * f1 (f1 - 1) / 2   (bias-corrected)
/// Variance as Chao (1987) (f2 > 0) and Chao et al. (f2 = 0); the interval
/// is log-normal: with T = S - observed, K = exp(1.96 sqrt(ln(1 + var/T^2))),
/// [observed + T/K, observed + T*K]; T = 0 gives [observed, observed].
richness_estimate estimate_richness(uint64_t observed, uint64_t f1, uint64_t f2,
                                    uint64_t n);

/// The same from a frequency table and n.
richness_estimate estimate_richness(const frequency_table& t, uint64_t n);

} // namespace evo
