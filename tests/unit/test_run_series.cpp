// The series behind report.html: bounded however long the run, nothing
// lost when neighbours merge, the in-flight level averaged over time, and
// the scheduler feeding them from its events.
#include <doctest/doctest.h>

#include <numeric>

#include "actors/coordinator/run_series.hpp"
#include "actors/coordinator/scheduler.hpp"

using evo::bounded_curve;
using evo::failure_kind;
using evo::failure_kind_count;
using evo::job_series;
using evo::time_bins;

TEST_CASE("bounded_curve keeps every point below its cap") {
  bounded_curve c(16);
  for (uint64_t i = 0; i < 10; ++i)
    c.add(i * 3, i);
  std::vector<uint64_t> xs, ys;
  c.export_to(xs, ys);
  REQUIRE(xs.size() == 10);
  for (uint64_t i = 0; i < 10; ++i) {
    CHECK(xs[i] == i * 3);
    CHECK(ys[i] == i);
  }
}

TEST_CASE("bounded_curve: at most cap points, evenly spread, ends at the last") {
  bounded_curve c(64);
  for (uint64_t i = 0; i <= 100000; ++i)
    c.add(i, i / 2);
  CHECK(c.held() <= 64);
  std::vector<uint64_t> xs, ys;
  c.export_to(xs, ys);
  REQUIRE(xs.size() >= 32); // halving leaves at least half the cap
  CHECK(xs.size() <= 65);   // the held ones and the last
  CHECK(xs.front() == 0);
  CHECK(xs.back() == 100000);
  CHECK(ys.back() == 50000);
  // Evenly spaced: every step but the last (to the final point) is equal.
  auto step = xs[1] - xs[0];
  CHECK(step > 1);
  for (size_t i = 1; i + 1 < xs.size(); ++i)
    CHECK(xs[i] - xs[i - 1] == step);
}

TEST_CASE("time_bins: bounded bins, no response or retry lost by merging") {
  time_bins b(0.1, 32);
  uint64_t sent = 0;
  for (int i = 0; i < 5000; ++i) {
    b.response(i * 0.2); // 1000 s of run, 5 per second
    ++sent;
    if (i % 10 == 0)
      b.retry(i * 0.2, failure_kind::http_status);
  }
  CHECK(b.bins() <= 32);
  job_series s;
  b.export_to(s, 1000.0);
  CHECK(s.responses.size() <= 32);
  CHECK(s.bin_s * static_cast<double>(s.responses.size()) >= 1000.0);
  CHECK(std::accumulate(s.responses.begin(), s.responses.end(), uint64_t{0})
        == sent);
  REQUIRE(s.retries.size() == s.responses.size() * failure_kind_count);
  uint64_t limited = 0, other = 0;
  for (size_t i = 0; i < s.retries.size(); ++i)
    (i % failure_kind_count == static_cast<size_t>(failure_kind::http_status)
       ? limited
       : other) += s.retries[i];
  CHECK(limited == 500);
  CHECK(other == 0);
  // An even rate shows as an even rate: 5 per second in every full bin.
  CHECK(s.responses[3] == doctest::Approx(5 * s.bin_s).epsilon(0.05));
}

TEST_CASE("time_bins: in flight is the mean level over each bin") {
  time_bins b(1.0, 8);
  b.level(0.0, 4);
  b.level(1.5, 2); // 4 over [0, 1.5), 2 over [1.5, 2), then 0
  b.level(2.0, 0);
  job_series s;
  b.export_to(s, 3.0);
  REQUIRE(s.in_flight.size() == 3);
  CHECK(s.in_flight[0] == doctest::Approx(4.0));
  CHECK(s.in_flight[1] == doctest::Approx(3.0)); // half 4, half 2
  CHECK(s.in_flight[2] == doctest::Approx(0.0));
  // A level still held at the end counts up to the end (the last bin is
  // half covered here).
  time_bins c(1.0, 8);
  c.level(0.0, 6);
  job_series t;
  c.export_to(t, 1.5);
  REQUIRE(t.in_flight.size() == 2);
  CHECK(t.in_flight[1] == doctest::Approx(6.0));
}

TEST_CASE("time_bins: the level's area survives merging") {
  time_bins b(0.5, 4);
  b.level(0.0, 10);
  b.level(1.0, 0);  // area 10 in the first second
  b.level(7.0, 2);  // forces merges (4 bins of 0.5 s cover only 2 s)
  job_series s;
  b.export_to(s, 8.0);
  CHECK(s.responses.size() <= 4);
  double area = 0;
  for (size_t i = 0; i < s.in_flight.size(); ++i)
    area += s.in_flight[i] * std::min(s.bin_s, 8.0 - s.bin_s * i);
  CHECK(area == doctest::Approx(10.0 + 2.0));
}

TEST_CASE("scheduler feeds the series: curve per write, attempts, retries") {
  auto spec = evo::make_job("a", "fim", evo::endpoint_kind::completions, "{}", 3);
  evo::scheduler s({spec}, 4);
  double now = 0;
  s.set_clock([&now] { return now; });
  std::vector<evo::scheduler::item> items;
  while (s.has_work()) {
    auto it = s.next();
    REQUIRE(it);
    s.sent(*it);
    items.push_back(*it);
  }
  REQUIRE(items.size() == 3);
  now = 0.25;
  s.returned(items[0], 2, 1000); // one transport re-send
  s.retrying(0, failure_kind::timeout);
  for (size_t i = 1; i < 3; ++i) {
    now = 0.3;
    s.returned(items[i], 1, 2000);
    evo::write_stats ws;
    ws.choices = 4;
    ws.kept = static_cast<uint32_t>(5 - i); // 4, then 3
    s.written(0, ws);
  }
  auto sum = s.summary(0.5);
  auto& x = sum.jobs[0].series;
  CHECK(x.curve_choices == std::vector<uint64_t>{0, 4, 8});
  CHECK(x.curve_kept == std::vector<uint64_t>{0, 4, 7});
  CHECK(std::accumulate(x.responses.begin(), x.responses.end(), uint64_t{0}) == 4);
  uint64_t transport = 0, server = 0;
  for (size_t i = 0; i < x.retries.size(); ++i) {
    if (i % failure_kind_count == static_cast<size_t>(failure_kind::transport))
      transport += x.retries[i];
    if (i % failure_kind_count == static_cast<size_t>(failure_kind::timeout))
      server += x.retries[i];
  }
  CHECK(transport == 1);
  CHECK(server == 1);
  CHECK(x.end_s == 0.5);
  // 3 in flight from 0 to 0.25, 2 to 0.3, then none: 0.85 attempt-seconds.
  double area = 0;
  for (size_t i = 0; i < x.in_flight.size(); ++i)
    area += x.in_flight[i] * std::min(x.bin_s, 0.5 - x.bin_s * i);
  CHECK(area == doctest::Approx(0.85));
  // Latency buckets: three attempts, one at 1 ms, two at 2 ms.
  CHECK(std::accumulate(x.latency_counts.begin(), x.latency_counts.end(),
                        uint64_t{0}) == 3);
  CHECK(x.latency_buckets.size() == 2);
}
