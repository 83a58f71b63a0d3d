// frequency_table and estimate_richness: the frequency-of-frequencies kept
// one sighting at a time, Chao1 (classic and bias-corrected) with its
// log-normal interval, Good-Turing's unseen mass; values worked by hand.
#include <doctest/doctest.h>

#include "actors/writer/richness_estimate.hpp"

using evo::estimate_richness;
using evo::frequency_table;

TEST_CASE("frequency_table moves a name from f_c to f_c+1 at each sighting") {
  frequency_table t{3};
  // name a: 1 sighting; b: 2; c: 5 (past k = 3)
  t.sighting(0);                  // a
  t.sighting(0);                  // b
  t.sighting(1);                  // b again
  for (uint32_t c = 0; c < 5; ++c) // c
    t.sighting(c);
  CHECK(t.f(1) == 1);
  CHECK(t.f(2) == 1);
  CHECK(t.f(3) == 0);
  CHECK(t.above_k() == 1);
  CHECK(t.distinct() == 3);
  CHECK(t.buckets() == std::vector<uint64_t>{1, 1, 0, 1});
}

TEST_CASE("frequency_table: a saturated count stays put") {
  frequency_table t{2};
  t.sighting(0);
  t.sighting(1);
  t.sighting(2); // now > 2
  t.sighting(UINT32_MAX);
  CHECK(t.buckets() == std::vector<uint64_t>{0, 0, 1});
}

TEST_CASE("Chao1 with f2 > 0: S_obs + (n-1)/n f1^2/(2 f2), log-normal interval") {
  // S_obs 10, f1 4, f2 2, n 20: w = 0.95, S = 10 + 0.95 * 16 / 4 = 13.8.
  // var = f2 (w/2 r^2 + w^2 r^3 + w^2/4 r^4), r = 2:
  //     = 2 (1.9 + 7.22 + 3.61) = 25.46; T = 3.8,
  // K = exp(1.96 sqrt(ln(1 + 25.46 / 14.44))) = 7.21369...
  auto e = estimate_richness(10, 4, 2, 20);
  CHECK(e.method == "chao1");
  CHECK(e.value == doctest::Approx(13.8));
  CHECK(e.low == doctest::Approx(10.526776).epsilon(1e-6));
  CHECK(e.high == doctest::Approx(37.412048).epsilon(1e-6));
  CHECK(e.p_new == doctest::Approx(0.2)); // Good-Turing f1 / n = 4 / 20
}

TEST_CASE("Chao1 with f2 = 0 is bias-corrected: S_obs + (n-1)/n f1 (f1-1)/2") {
  // S_obs 5, f1 3, f2 0, n 8: w = 0.875, S = 5 + 0.875 * 3 = 7.625.
  // var = w f1(f1-1)/2 + w^2 f1 (2 f1 - 1)^2 / 4 - w^2 f1^4 / (4 S)
  //     = 2.625 + 14.35546875 - 2.03330 = 14.94717
  auto e = estimate_richness(5, 3, 0, 8);
  CHECK(e.method == "chao1_bias_corrected");
  CHECK(e.value == doctest::Approx(7.625));
  CHECK(e.low == doctest::Approx(5.319831).epsilon(1e-6));
  CHECK(e.high == doctest::Approx(26.544593).epsilon(1e-6));
  CHECK(e.p_new == doctest::Approx(3.0 / 8));
}

TEST_CASE("no name seen once: the estimate is what was seen") {
  auto e = estimate_richness(7, 0, 3, 30);
  CHECK(e.value == doctest::Approx(7));
  CHECK(e.low == doctest::Approx(7));
  CHECK(e.high == doctest::Approx(7));
  CHECK(e.p_new == 0);
}

TEST_CASE("no sample: no estimate") {
  auto e = estimate_richness(0, 0, 0, 0);
  CHECK(e.method == "none");
  CHECK(e.value == 0);
}

TEST_CASE("estimate from a table uses its f1, f2 and distinct count") {
  frequency_table t;
  // 4 names once, 2 twice, 4 three times: S_obs 10, n = 4 + 4 + 12 = 20
  for (int i = 0; i < 4; ++i)
    t.sighting(0);
  for (int i = 0; i < 2; ++i) {
    t.sighting(0);
    t.sighting(1);
  }
  for (int i = 0; i < 4; ++i) {
    t.sighting(0);
    t.sighting(1);
    t.sighting(2);
  }
  auto e = estimate_richness(t, 20);
  CHECK(e.value == doctest::Approx(13.8));
}
