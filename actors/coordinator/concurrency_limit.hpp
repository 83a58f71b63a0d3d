// The adaptive in-flight limit (api.concurrency.adaptive): finds the knee of
// the server's completion-token throughput by probing below and above it,
// and keeps a headroom above the knee, between a floor and a ceiling, with a
// multiplicative decrease on overload answers (429, 503, timeouts) and no
// increase before their Retry-After. Plain class, no CAF, no clock of
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
  /// Throughput within ±tolerance of the reference counts as unchanged
  /// (above the noise of a 1 s window on a loaded machine).
  double tolerance = 0.05;
  /// Slow start doubles the limit while the throughput grows by at least
  /// this fraction per doubling.
  double slow_start_gain = 0.15;
  double step = 0.1;     ///< first step of a probe below the knee
  double max_step = 0.3; ///< down steps grow ×1.5 while nothing is lost
  double backoff = 0.7;  ///< limit × backoff on an overload answer
  /// The limit is the knee × (1 + headroom): a few requests wait in the
  /// server to fill the slots that answers leave empty while their
  /// replacements travel (the tolerance hides up to its own size of
  /// throughput below the knee).
  double headroom = 0.2;
  double up_step = 0.25;    ///< a probe above: the limit × (1 + up_step)
  size_t cruise_windows = 1; ///< windows at the limit between probes
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
  /// The server refused at once (429, 503) while `in_flight` other attempts
  /// were out: an overload, and until the next decrease is due the limit
  /// is at most `in_flight`, so the refused slot is not refilled (the
  /// refusal is back in a round trip, and a replacement at the same limit
  /// would be refused again, as fast).
  void on_refused(double now, double retry_after_s, size_t in_flight);

  concurrency_trace trace() const;

private:
  enum class phase : uint8_t { slow_start, cruise, probe_down, probe_up };

  void set_limit(double now, size_t next);
  void evaluate(double now);
  void cruise_from(double now, size_t knee); ///< the knee, then cruise
  void probe(double now, phase p);
  void record(double now);
  size_t cruise_limit() const; ///< knee × (1 + headroom), clamped

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
  // Slow start: the last doubling's measure.
  bool have_prev_ = false;
  size_t prev_limit_ = 0;
  double prev_rate_ = 0;
  // Cruise: the knee estimate, the throughput at the cruise limit (the
  // reference a probe is compared with, measured just before it, so a
  // slow drift of the machine cancels out) and the probe schedule.
  size_t knee_ = 0;
  bool have_ref_ = false;
  double ref_rate_ = 0;
  size_t cruised_ = 0; ///< windows at the cruise limit since the last probe
  unsigned probes_ = 0;  ///< scheduled probes: every third is below
  double step_;          ///< the next probe below, a fraction of the knee
  double hold_until_ = 0;    ///< no increase before (Retry-After)
  double last_decrease_ = -1e300; ///< one overload decrease per latency
  size_t min_seen_, max_seen_;
  std::vector<std::pair<double, uint32_t>> series_;
};

/// Appends (t, value) to a limit's series; once it holds twice `points`,
/// every other point goes (the first and the newest stay), so a long run
/// keeps its shape in bounded memory. Used for each node's and the sum's.
void append_thinned(std::vector<std::pair<double, uint32_t>>& series, double t,
                    uint32_t value, size_t points);

} // namespace evo
