// The adaptive in-flight limit (api.concurrency.adaptive): a hill climb on
// the server's completion-token throughput between a floor and a ceiling,
// with a multiplicative decrease on overload answers (429, 503, timeouts)
// and no increase before their Retry-After. Plain class, no CAF, no clock of
// its own: the caller passes the time (seconds on any monotonic clock), so
// tests run it on a made-up one. Why this algorithm: docs/DESIGN.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "messages/stats.hpp"

namespace evo {

struct concurrency_limit_config {
  size_t floor = 1;    ///< api.concurrency.min
  size_t ceiling = 10; ///< max_concurrent_requests (the pool)
  size_t initial = 0;  ///< first limit; 0 = the floor
  /// Shortest measuring window; a window also lasts two smoothed latencies
  /// and holds at least `window_samples` completions.
  double window_s = 1.0;
  size_t window_samples = 16;
  /// Throughput within ±tolerance of the best counts as unchanged (above
  /// the noise of a 1 s window on a loaded machine).
  double tolerance = 0.05;
  /// Slow start doubles the limit while the throughput grows by at least
  /// this fraction per doubling.
  double slow_start_gain = 0.15;
  double step = 0.1;     ///< first probe step, a fraction of the limit
  double max_step = 0.3; ///< steps grow ×1.5 while a direction pays
  double backoff = 0.7;  ///< limit × backoff on an overload answer
  size_t series_points = 128; ///< the kept history holds at most 2× this
};

class concurrency_limit {
public:
  /// `now`: the start of the run on the caller's clock (seconds).
  concurrency_limit(concurrency_limit_config cfg, double now);

  size_t limit() const { return limit_; }

  /// An attempt went out; `in_flight` counts it.
  void on_sent(size_t in_flight);
  /// An attempt succeeded after `latency_s` with `tokens` completion tokens
  /// (0 when the server reports none: the completion then counts as one).
  void on_success(double now, uint64_t tokens, double latency_s);
  /// The server said it is overloaded (429, 503, a timeout); `retry_after_s`
  /// (< 0 when none): no increase before it has passed.
  void on_overload(double now, double retry_after_s);

  concurrency_trace trace() const;

private:
  enum class phase : uint8_t { slow_start, probing };

  void set_limit(double now, size_t next);
  void evaluate(double now);
  void move(double now, int dir);
  void record(double now);
  size_t lowest() const; ///< the floor as clamped

  concurrency_limit_config cfg_;
  double start_;
  size_t limit_;
  phase phase_ = phase::slow_start;
  // The running window: it starts once the last change has settled (one
  // smoothed latency after it), so attempts sent under the old limit do
  // not count.
  double window_start_ = 0;
  double work_ = 0; ///< completion tokens in the window
  size_t samples_ = 0;
  size_t peak_in_flight_ = 0;
  double srtt_ = 0; ///< smoothed latency (s); 0 = none yet
  // The last window's measure.
  bool have_prev_ = false;
  size_t prev_limit_ = 0;
  double prev_rate_ = 0;
  double best_rate_ = 0; ///< best window lately (reset on a big drop)
  size_t best_limit_ = 0; ///< the limit of that window
  bool lost_before_ = false; ///< the last window was below the best too
  int downs_ = 0;            ///< steps down in a row with nothing lost
  int dir_ = 1;
  double step_;
  double hold_until_ = 0;    ///< no increase before (Retry-After)
  double last_decrease_ = -1e300; ///< one overload decrease per latency
  size_t min_seen_, max_seen_;
  std::vector<std::pair<double, uint32_t>> series_;
};

} // namespace evo
