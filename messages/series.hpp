// What one job did over the run, in bounded size: the discovery curve, the
// attempts, in-flight level and retries per time bin, the latency buckets.
// Plain struct; filled by the coordinator (actors/coordinator/run_series),
// carried in job_stats, drawn by app/report_html.
#pragma once

#include <cstdint>
#include <vector>

namespace evo {

struct job_series {
  /// Discovery curve: choices sampled and names kept so far, at most a few
  /// hundred points from (0, 0) to the job's last write.
  std::vector<uint64_t> curve_choices;
  std::vector<uint64_t> curve_kept;
  /// Time bins of bin_s seconds from the start of the run, up to end_s.
  double bin_s = 0;
  double end_s = 0;
  std::vector<uint64_t> responses; ///< attempts that came back, per bin
  std::vector<double> in_flight;   ///< mean attempts in flight, per bin
  /// Retries per bin: failure_kind_count values per bin, by failure_kind.
  std::vector<uint64_t> retries;
  /// latency_histogram buckets holding a count (index, count).
  std::vector<uint32_t> latency_buckets;
  std::vector<uint64_t> latency_counts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_series& x) {
  return f(x.curve_choices, x.curve_kept, x.bin_s, x.end_s, x.responses,
           x.in_flight, x.retries, x.latency_buckets, x.latency_counts);
}

} // namespace evo
