// token_budget driven by a hand-made clock: the sliding window, reservations
// and their corrections, the worst case of a burst; and what a request body
// reserves.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>
#include <vector>

#include "actors/rate_limiter/token_budget.hpp"

using evo::token_budget;
using clk = token_budget::clock;
using namespace std::chrono_literals;

namespace {
const clk::time_point t0 = clk::time_point{} + 1000h;
} // namespace

TEST_CASE("token budget admits whole reservations up to the budget") {
  token_budget b{1000, 60s};
  CHECK(b.fits(100, 300, t0) == 3);
  auto id = b.reserve(3, 300, t0);
  CHECK(id > 0);
  CHECK(b.in_window(t0) == 900);
  CHECK(b.fits(1, 300, t0) == 0); // 1200 > 1000: not even partly
  CHECK(b.fits(5, 100, t0) == 1);
  CHECK(b.reserved_total() == 900);
}

TEST_CASE("token budget window slides: room returns exactly one window later") {
  token_budget b{1000, 60s};
  b.reserve(1, 600, t0);
  b.reserve(1, 400, t0 + 10s);
  CHECK(b.fits(1, 500, t0 + 59s) == 0);
  CHECK(b.time_until(500, t0 + 59s) == 1s); // the first expires at t0 + 60 s
  CHECK(b.fits(1, 500, t0 + 60s - 1ns) == 0);
  CHECK(b.fits(1, 500, t0 + 60s) == 1);
  CHECK(b.in_window(t0 + 60s) == 400);
  CHECK(b.in_window(t0 + 70s) == 0);
}

TEST_CASE("token budget time_until walks as many expiries as needed") {
  token_budget b{1000, 60s};
  b.reserve(1, 300, t0);
  b.reserve(1, 300, t0 + 5s);
  b.reserve(1, 300, t0 + 9s);
  // 900 held; 700 needs 600 freed: the first two must go.
  CHECK(b.time_until(700, t0 + 10s) == 55s);
  CHECK(b.time_until(100, t0 + 10s) == 0s);
  CHECK(b.time_until(1001, t0 + 10s) == clk::duration::max());
}

TEST_CASE("token budget correction downwards frees room at once") {
  token_budget b{1000, 60s};
  auto id = b.reserve(4, 250, t0);
  REQUIRE(b.fits(1, 250, t0 + 1s) == 0);
  b.correct(id, 250, 50, t0 + 1s); // one of the four used 50
  CHECK(b.in_window(t0 + 1s) == 800);
  CHECK(b.fits(1, 200, t0 + 1s) == 1);
  CHECK(b.used_total() == 50);
  CHECK(b.corrected_reserved_total() == 250);
}

TEST_CASE("token budget correction upwards takes room (a prompt estimated low)") {
  token_budget b{1000, 60s};
  auto id = b.reserve(1, 100, t0);
  b.correct(id, 100, 400, t0 + 1s);
  CHECK(b.in_window(t0 + 1s) == 400);
  CHECK(b.fits(10, 100, t0 + 1s) == 6);
}

TEST_CASE("token budget correction of an expired reservation changes no window") {
  token_budget b{1000, 60s};
  auto old = b.reserve(1, 500, t0);
  b.reserve(1, 500, t0 + 30s);
  b.correct(old, 500, 0, t0 + 61s); // came back after its window
  CHECK(b.in_window(t0 + 61s) == 500);
  CHECK(b.used_total() == 0);
  CHECK(b.corrected_reserved_total() == 500);
}

TEST_CASE("token budget a reservation left uncorrected keeps its room") {
  // A failed attempt without usage: conservative, the room stays taken.
  token_budget b{1000, 60s};
  b.reserve(1, 600, t0);
  CHECK(b.fits(1, 600, t0 + 59s) == 0);
  CHECK(b.fits(1, 600, t0 + 60s) == 1);
}

TEST_CASE("token budget worst case: a burst then corrections, no window over "
          "budget") {
  // Requests reserve 500 (prompt 100 + max 400) and use 100..400; every
  // answer comes 2 s after its reservation. Admission is checked against
  // every 60 s window of what was really used, at request times.
  const uint64_t budget = 10000;
  token_budget b{budget, 60s};
  struct sent {
    clk::time_point at;
    uint64_t id;
    uint64_t used;
  };
  std::deque<sent> pending;
  std::vector<std::pair<clk::time_point, uint64_t>> used_log;
  uint64_t k = 0;
  for (auto now = t0; now < t0 + 300s; now += 100ms) {
    while (!pending.empty() && pending.front().at + 2s <= now) {
      auto& p = pending.front();
      b.correct(p.id, 500, p.used, now);
      pending.pop_front();
    }
    auto got = b.fits(50, 500, now);
    for (uint32_t i = 0; i < got; ++i) {
      auto used = 100 + (k++ * 37) % 301;
      pending.push_back({now, b.reserve(1, 500, now), used});
      used_log.emplace_back(now, used);
    }
  }
  REQUIRE(used_log.size() > 100);
  uint64_t total = 0;
  uint64_t worst = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < used_log.size(); ++hi) {
    total += used_log[hi].second;
    while (used_log[lo].first + 60s <= used_log[hi].first)
      total -= used_log[lo++].second;
    worst = std::max(worst, total);
  }
  CHECK(worst <= budget);
  // Corrections free room: far more than budget / 500 per window went out.
  uint64_t sum = 0;
  for (auto& u : used_log)
    if (u.first < t0 + 240s)
      sum += u.second;
  CHECK(sum >= 4 * budget * 95 / 100); // 4 windows, >= 95 % used
}

TEST_CASE("reservation_of reads prompt, suffix, messages, max_tokens and n") {
  auto r = evo::reservation_of(
    R"({"model":"m","prompt":"abcdefghi","suffix":"xyz","max_tokens":16,"n":4})");
  CHECK(r.prompt_bytes == 12);
  CHECK(r.prompt_estimate == 3);
  CHECK(r.max_completion == 64);
  CHECK(r.bounded);
  auto c = evo::reservation_of(
    R"({"messages":[{"role":"user","content":"hello"},)"
    R"({"role":"user","content":[{"type":"text","text":"abc"}]}],)"
    R"("max_completion_tokens":10})");
  CHECK(c.prompt_bytes == 8);
  CHECK(c.prompt_estimate == 2);
  CHECK(c.max_completion == 10);
  auto none = evo::reservation_of(R"({"prompt":"a"})");
  CHECK_FALSE(none.bounded);
  CHECK(none.prompt_estimate == 1);
}

TEST_CASE("held reservations are spent oldest first, one per request") {
  evo::held_reservations h;
  h.add(7, 100, 2);
  h.add(8, 50, 1);
  CHECK(h.count() == 3);
  auto a = h.take();
  CHECK((a.id == 7 && a.each == 100));
  h.keep(1); // one paid as debt
  CHECK(h.count() == 1);
  auto c = h.take();
  CHECK((c.id == 8 && c.each == 50));
  CHECK(h.count() == 0);
}
