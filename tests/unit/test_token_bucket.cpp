// token_bucket driven by a hand-made clock: no sleeps, exact time points.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <vector>

#include "actors/rate_limiter/token_bucket.hpp"

using evo::token_bucket;
using clk = token_bucket::clock;
using namespace std::chrono_literals;

namespace {
// An arbitrary but fixed origin, far from the clock's epoch.
const clk::time_point t0 = clk::time_point{} + 1000h;
} // namespace

TEST_CASE("token bucket starts full with exactly burst tokens") {
  token_bucket b{10.0, 5.0, t0};
  CHECK(b.take(100, t0) == 5);
  CHECK(b.take(100, t0) == 0);
}

TEST_CASE("token bucket take returns at most max") {
  token_bucket b{10.0, 8.0, t0};
  CHECK(b.take(3, t0) == 3);
  CHECK(b.take(0, t0) == 0);
  CHECK(b.take(4, t0) == 4);
  CHECK(b.take(4, t0) == 1); // only one left
  CHECK(b.take(4, t0) == 0);
}

TEST_CASE("token bucket refills at rate") {
  token_bucket b{10.0, 100.0, t0};
  REQUIRE(b.take(1000, t0) == 100);
  CHECK(b.take(1000, t0 + 99ms) == 0);   // 0.99 token
  CHECK(b.take(1000, t0 + 100ms) == 1);  // one at 100 ms
  CHECK(b.take(1000, t0 + 600ms) == 5);  // 5 more over 500 ms
  CHECK(b.take(1000, t0 + 1600ms) == 10);
}

TEST_CASE("token bucket never exceeds burst after long idle") {
  token_bucket b{50.0, 3.0, t0};
  REQUIRE(b.take(10, t0) == 3);
  CHECK(b.take(1000, t0 + 1h) == 3);
  CHECK(b.take(1000, t0 + 1h) == 0);
  // A time point in the past does not add or remove tokens.
  CHECK(b.take(1000, t0) == 0);
}

TEST_CASE("token bucket burst below one is raised to one") {
  token_bucket b{10.0, 0.0, t0};
  CHECK(b.burst() == doctest::Approx(1.0));
  CHECK(b.take(5, t0) == 1);
}

TEST_CASE("time_until_token is zero with a token, else at least the exact wait") {
  token_bucket b{50.0, 1.0, t0};
  CHECK(b.time_until_token(t0) == clk::duration::zero());
  REQUIRE(b.take(1, t0) == 1);
  auto wait = b.time_until_token(t0);
  CHECK(wait >= 20ms); // 1 token at 50/s = 20 ms exactly
  CHECK(wait < 21ms);
  CHECK(b.take(1, t0 + wait) == 1);

  // From a fractional state: 7 ms after the take, 13 ms remain.
  auto t1 = t0 + wait;
  auto w2 = b.time_until_token(t1 + 7ms);
  CHECK(w2 >= 13ms);
  CHECK(w2 < 14ms);
  CHECK(b.take(1, t1 + 7ms) == 0);
  CHECK(b.take(1, t1 + 7ms + w2) == 1);
}

TEST_CASE("time_until_token then take succeeds for awkward rates") {
  for (double rate : {3.0, 7.0, 33.3, 999.0, 0.5}) {
    CAPTURE(rate);
    token_bucket b{rate, 1.0, t0};
    auto now = t0;
    for (int i = 0; i < 200; ++i) {
      REQUIRE(b.take(1, now) == 1);
      auto w = b.time_until_token(now);
      REQUIRE(w > clk::duration::zero());
      std::chrono::duration<double> exact{1.0 / rate};
      REQUIRE(std::chrono::duration<double>(w).count()
              >= exact.count() * (1 - 1e-6));
      now += w;
    }
  }
}

TEST_CASE("token bucket at rate 50 burst 1 grants 500+-1 tokens in 10 s of 1 ms polls") {
  token_bucket b{50.0, 1.0, t0};
  std::deque<clk::time_point> grants;
  std::deque<clk::time_point> window;
  size_t max_in_window = 0;
  for (int ms = 0; ms < 10000; ++ms) {
    auto now = t0 + std::chrono::milliseconds(ms);
    auto got = b.take(1, now);
    REQUIRE(got <= 1);
    if (got == 1) {
      grants.push_back(now);
      window.push_back(now);
      while (!window.empty() && now - window.front() >= 1s)
        window.pop_front();
      max_in_window = std::max(max_in_window, window.size());
    }
  }
  // 1 initial token + 50/s over the 9.999 s that elapse.
  CHECK(grants.size() >= 499);
  CHECK(grants.size() <= 501);
  CHECK(max_in_window <= 51);
  // Steady state: grants are 20 ms apart (one poll of slack for rounding).
  for (size_t i = 2; i < grants.size(); ++i) {
    auto gap = grants[i] - grants[i - 1];
    REQUIRE(gap >= 19ms);
    REQUIRE(gap <= 21ms);
  }
}

// Drives the bucket the way the rate limiter actor does: a timer armed for
// the next token fires up to 2.5 ms late, and the bucket is refilled as of
// the due time (catching up at most one token interval) so lateness is not
// lost. Grants then happen at the real (late) times, which is what a
// server sees.
std::vector<clk::time_point> limiter_grants(clk::duration margin, size_t count) {
  auto t0 = clk::time_point{} + std::chrono::hours(1);
  token_bucket b{500.0, 1.0, t0, margin};
  const auto period = std::chrono::microseconds(2000);
  std::vector<clk::time_point> grants;
  std::mt19937 rng{3};
  std::uniform_int_distribution<int> late_us(0, 2500);
  auto due = t0;
  for (int i = 0; i < 100000 && grants.size() < count; ++i) {
    auto real = due + std::chrono::microseconds(late_us(rng));
    auto as_of = std::min(real, std::max(due, real - period));
    auto got = b.take(8, as_of);
    for (uint32_t k = 0; k < got; ++k)
      grants.push_back(real);
    due = as_of + b.time_until_token(as_of);
  }
  return grants;
}

size_t busiest_second(const std::vector<clk::time_point>& grants) {
  size_t lo = 0, worst = 0;
  for (size_t hi = 0; hi < grants.size(); ++hi) {
    while (grants[hi] - grants[lo] >= std::chrono::seconds(1))
      ++lo;
    worst = std::max(worst, hi - lo + 1);
  }
  return worst;
}

TEST_CASE("a late timer's catch-up never puts more than rate + burst grants "
          "in a second") {
  auto grants = limiter_grants(token_bucket::default_margin, 5000);
  REQUIRE(grants.size() == 5000);
  CHECK(busiest_second(grants) <= 501);
  // The catch-up keeps the long-run rate: 5000 grants take ~10 s, not the
  // 10 s + 5000 x 1.25 ms that losing every delay would cost.
  CHECK(grants.back() - grants.front() < std::chrono::milliseconds(10300));
}

TEST_CASE("no 1 s + 5 ms window holds more than floor(rate + burst) grants "
          "at 100 us polls") {
  // Fine polls find each token the moment it exists: the bucket alone
  // would let 1 + 500 x 1.005 = 503 grants into a 1.005 s window.
  token_bucket b{500.0, 1.0, t0};
  std::vector<clk::time_point> grants;
  for (int k = 0; k < 100000; ++k) { // 10 s
    auto now = t0 + std::chrono::microseconds(100 * k);
    for (uint32_t got = b.take(8, now); got > 0; --got)
      grants.push_back(now);
  }
  // The long-run rate is kept within the window's margin: at most 501 per
  // 1.005 s is ~4985 in 10 s, the bucket alone would give 5001.
  CHECK(grants.size() >= 4980);
  CHECK(grants.size() <= 5001);
  size_t lo = 0, worst = 0;
  const auto window = 1s + token_bucket::default_margin;
  for (size_t hi = 0; hi < grants.size(); ++hi) {
    while (grants[hi] - grants[lo] >= window)
      ++lo;
    worst = std::max(worst, hi - lo + 1);
  }
  CHECK(worst <= 501);
}
