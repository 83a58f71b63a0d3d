#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "actors/coordinator/latency_histogram.hpp"

using evo::latency_histogram;

TEST_CASE("latency_histogram quantiles are within 1% of the exact ones") {
  latency_histogram h;
  std::vector<uint32_t> all;
  std::mt19937 rng{7};
  std::lognormal_distribution<double> dist(std::log(20000.0), 0.8);
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<uint32_t>(std::min(dist(rng), 4e9));
    h.record(v);
    all.push_back(v);
  }
  std::sort(all.begin(), all.end());
  for (double p : {0.5, 0.95, 0.99}) {
    CAPTURE(p);
    auto exact = all[static_cast<size_t>(p * all.size()) - 1] / 1000.0;
    CHECK(h.quantile_ms(p) == doctest::Approx(exact).epsilon(0.01));
  }
  CHECK(h.count() == 100000);
}

TEST_CASE("latency_histogram: small values exact, empty is zero, huge kept") {
  latency_histogram h;
  CHECK(h.quantile_ms(0.5) == 0);
  for (uint32_t v : {1u, 2u, 3u, 4u, 5u})
    h.record(v * 10);
  CHECK(h.quantile_ms(0.5) == doctest::Approx(0.030));
  h.record(4000000000u); // ~67 minutes
  CHECK(h.quantile_ms(1.0) == doctest::Approx(4000000.0).epsilon(0.01));
}
