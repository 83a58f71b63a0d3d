#include "app/run_report.hpp"
#include "app/config/config_loader.hpp"
#include "app/report_html.hpp"

#include "actors/coordinator/latency_histogram.hpp"

#include "app/stop_signals.hpp"
#include "actors/writer/json_write.hpp"
#include "actors/writer/jsonl_file.hpp"
#include "actors/writer/richness_estimate.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <stdexcept>

namespace evo {

namespace {

job_stats total_of(const run_summary& s) {
  job_stats t;
  t.name = "total";
  t.mode = "-";
  latency_histogram latencies; // the jobs' buckets merged: real percentiles
  for (auto& j : s.jobs) {
    t.merge(j);
    auto& b = j.series.latency_buckets;
    for (size_t i = 0; i < b.size() && i < j.series.latency_counts.size(); ++i)
      latencies.add_bucket(b[i], j.series.latency_counts[i]);
  }
  t.latency_p50_ms = latencies.quantile_ms(0.50);
  t.latency_p95_ms = latencies.quantile_ms(0.95);
  t.latency_p99_ms = latencies.quantile_ms(0.99);
  t.wall_s = s.wall_s;
  return t;
}

// A job's series for report.html (and scripts): plain arrays, retries only
// for the reasons that happened, latency as [low ms, high ms, count].
nlohmann::json series_json(const job_series& x) {
  nlohmann::json retries = nlohmann::json::object();
  auto bins = x.responses.size();
  for (size_t k = 1; k < failure_kind_count; ++k) {
    std::vector<uint64_t> per_bin(bins, 0);
    uint64_t any = 0;
    for (size_t i = 0; i < bins && i * failure_kind_count + k < x.retries.size(); ++i)
      any += per_bin[i] = x.retries[i * failure_kind_count + k];
    if (any > 0)
      retries[to_string(static_cast<failure_kind>(k))] = per_bin;
  }
  nlohmann::json latency = nlohmann::json::array();
  for (size_t i = 0; i < x.latency_buckets.size() && i < x.latency_counts.size(); ++i)
    latency.push_back({latency_histogram::bucket_low_ms(x.latency_buckets[i]),
                       latency_histogram::bucket_high_ms(x.latency_buckets[i]),
                       x.latency_counts[i]});
  return {{"curve", {{"choices", x.curve_choices}, {"kept", x.curve_kept}}},
          {"bin_s", x.bin_s},
          {"end_s", x.end_s},
          {"responses", x.responses},
          {"in_flight", x.in_flight},
          {"retries", retries},
          {"latency_ms", latency}};
}

double unique_ratio(const job_stats& j) {
  return j.choices > 0 ? static_cast<double>(j.kept) / j.choices : 0.0;
}

double rate(uint64_t n, double secs) {
  return secs > 0 ? static_cast<double>(n) / secs : 0.0;
}

// {"1": f1, ..., "k": fk, ">k": more}: k is the table's cap.
nlohmann::json frequencies_json(const std::vector<uint64_t>& counts) {
  nlohmann::json out = nlohmann::json::object();
  if (counts.empty())
    return out;
  const auto k = counts.size() - 1;
  for (size_t c = 1; c <= k; ++c)
    out[std::to_string(c)] = counts[c - 1];
  out[">" + std::to_string(k)] = counts.back();
  return out;
}

nlohmann::json estimate_json(const job_stats& j) {
  const auto& c = j.frequency_of_frequencies;
  uint64_t observed = 0;
  for (auto x : c)
    observed += x;
  auto e = estimate_richness(observed, c.size() > 1 ? c[0] : 0,
                             c.size() > 2 ? c[1] : 0, j.valid());
  return {{"value", e.value},
          {"low", e.low},
          {"high", e.high},
          {"method", e.method},
          {"p_new", e.p_new}};
}

// [{"name", "count"}, ...] as the writer sorted them. A name is model
// output: it goes through the JSONL writer's string literal, so the page
// gets what names.jsonl holds (valid UTF-8, U+FFFD for a stray byte).
nlohmann::json top_names_json(const std::vector<name_count>& top) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& e : top) {
    std::string literal;
    append_json_string(literal, e.name);
    out.push_back({{"name", nlohmann::json::parse(literal)}, {"count", e.count}});
  }
  return out;
}

nlohmann::json to_json(const job_stats& j) {
  nlohmann::json retries = nlohmann::json::object();
  for (size_t k = 1; k < j.retries_by_kind.size(); ++k)
    retries[to_string(static_cast<failure_kind>(k))] = j.retries_by_kind[k];
  return {{"name", j.name},
          {"mode", j.mode},
          {"target_unique", j.target_unique},
          {"resumed_items", j.resumed_items},
          {"names_in_folder", j.resumed_kept + j.kept},
          {"requests", j.planned},
          {"done", j.done},
          {"failed", j.failed},
          {"attempts", j.attempts},
          {"retries", j.retries()},
          {"retries_by_reason", retries},
          {"choices", j.choices},
          {"kept", j.kept},
          {"duplicates", j.duplicates},
          {"near_duplicates", j.near_duplicates},
          {"filtered",
           {{"empty", j.filtered_empty},
            {"regex", j.filtered_regex},
            {"weaklist", j.filtered_weak},
            {"excluded", j.filtered_excluded}}},
          {"canonical_duplicates", j.canonical_duplicates},
          {"frequency_of_frequencies",
           frequencies_json(j.frequency_of_frequencies)},
          {"estimated_distinct", estimate_json(j)},
          {"stopped_by", j.stopped_by},
          {"stopped_at_choices", j.stopped_at_choices},
          {"unique_ratio", unique_ratio(j)},
          {"prompt_tokens", j.prompt_tokens},
          {"completion_tokens", j.completion_tokens},
          {"latency_ms",
           {{"p50", j.latency_p50_ms},
            {"p95", j.latency_p95_ms},
            {"p99", j.latency_p99_ms}}},
          {"wall_s", j.wall_s},
          {"requests_per_s", rate(j.done + j.failed, j.wall_s)}};
}

nlohmann::json job_json(const job_stats& j) {
  auto out = to_json(j);
  out["series"] = series_json(j.series);
  out["top_names"] = top_names_json(j.top_names); // a job's own, not the total's
  return out;
}

} // namespace

std::string render_table(const run_summary& s) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line),
                "%-10s %8s %8s %7s %8s %7s %8s %8s %8s %8s %7s %8s %8s %8s %9s\n",
                "job", "requests", "done", "failed", "attempts", "retries",
                "choices", "kept", "dup", "filtered", "unique", "p50 ms",
                "p95 ms", "wall s", "req/s");
  out += line;
  auto row = [&](const job_stats& j) {
    std::snprintf(line, sizeof(line),
                  "%-10s %8llu %8llu %7llu %8llu %7llu %8llu %8llu %8llu %8llu "
                  "%6.1f%% %8.1f %8.1f %8.2f %9.1f\n",
                  j.name.substr(0, 10).c_str(),
                  static_cast<unsigned long long>(j.planned),
                  static_cast<unsigned long long>(j.done),
                  static_cast<unsigned long long>(j.failed),
                  static_cast<unsigned long long>(j.attempts),
                  static_cast<unsigned long long>(j.retries()),
                  static_cast<unsigned long long>(j.choices),
                  static_cast<unsigned long long>(j.kept),
                  static_cast<unsigned long long>(j.duplicates),
                  static_cast<unsigned long long>(
                    j.filtered_empty + j.filtered_regex + j.filtered_weak
                    + j.filtered_excluded),
                  100.0 * unique_ratio(j), j.latency_p50_ms, j.latency_p95_ms,
                  j.wall_s, rate(j.done + j.failed, j.wall_s));
    out += line;
  };
  for (auto& j : s.jobs)
    row(j);
  if (s.jobs.size() > 1)
    row(total_of(s));
  return out;
}

void set_log_level(bool quiet, bool verbose) {
  spdlog::set_level(quiet     ? spdlog::level::warn
                    : verbose ? spdlog::level::debug
                              : spdlog::level::info);
}

void log_config_notes(const config_notes& notes, bool quiet, bool verbose) {
  if (notes.log_level && !quiet && !verbose)
    spdlog::set_level(spdlog::level::from_str(*notes.log_level));
  for (const auto& w : notes.warnings)
    spdlog::warn("{}", w);
  for (const auto& i : notes.info)
    spdlog::info("{}", i);
}

namespace {

// The A/B metrics, each as (label, value of a job).
struct ab_metric {
  const char* label;
  double (*value)(const job_stats&);
  const char* format;
};

const ab_metric ab_metrics[] = {
  {"requests", [](const job_stats& j) { return double(j.done + j.failed); }, "%.0f"},
  {"choices", [](const job_stats& j) { return double(j.choices); }, "%.0f"},
  {"kept", [](const job_stats& j) { return double(j.kept); }, "%.0f"},
  {"unique ratio", [](const job_stats& j) { return unique_ratio(j); }, "%.3f"},
  {"duplicates", [](const job_stats& j) { return double(j.duplicates); }, "%.0f"},
  {"filtered (regex)", [](const job_stats& j) { return double(j.filtered_regex); }, "%.0f"},
  {"filtered (weaklist)", [](const job_stats& j) { return double(j.filtered_weak); }, "%.0f"},
  {"filtered (empty)", [](const job_stats& j) { return double(j.filtered_empty); }, "%.0f"},
  {"filtered (excluded)", [](const job_stats& j) { return double(j.filtered_excluded); }, "%.0f"},
  {"canonical duplicates", [](const job_stats& j) { return double(j.canonical_duplicates); }, "%.0f"},
  {"kept per request",
   [](const job_stats& j) {
     auto r = j.done + j.failed;
     return r > 0 ? double(j.kept) / double(r) : 0.0;
   },
   "%.2f"},
  {"completion tokens / kept",
   [](const job_stats& j) {
     return j.kept > 0 ? double(j.completion_tokens) / double(j.kept) : 0.0;
   },
   "%.1f"},
  {"latency p50 ms", [](const job_stats& j) { return j.latency_p50_ms; }, "%.1f"},
};

} // namespace

std::string render_ab_table(const run_summary& s,
                            const std::vector<ab_pair>& pairs) {
  std::string out;
  char line[256];
  for (auto& p : pairs) {
    auto& f = s.jobs.at(p.fim);
    auto& l = s.jobs.at(p.l2r);
    std::snprintf(line, sizeof(line), "\nA/B  %-26s %14s %14s\n", "",
                  ("FIM " + f.name).substr(0, 14).c_str(),
                  ("L2R " + l.name).substr(0, 14).c_str());
    out += line;
    for (auto& m : ab_metrics) {
      char a[32], b[32];
      std::snprintf(a, sizeof(a), m.format, m.value(f));
      std::snprintf(b, sizeof(b), m.format, m.value(l));
      std::snprintf(line, sizeof(line), "     %-26s %14s %14s\n", m.label, a,
                    b);
      out += line;
    }
  }
  return out;
}

namespace {

nlohmann::json report_document(const run_summary& s,
                               const std::vector<ab_pair>& pairs) {
  nlohmann::json jobs = nlohmann::json::array();
  for (auto& j : s.jobs)
    jobs.push_back(job_json(j));
  nlohmann::json ab = nlohmann::json::array();
  for (auto& p : pairs) {
    nlohmann::json metrics = nlohmann::json::object();
    for (auto& m : ab_metrics)
      metrics[m.label] = {{"fim", m.value(s.jobs.at(p.fim))},
                          {"l2r", m.value(s.jobs.at(p.l2r))}};
    ab.push_back({{"fim", s.jobs.at(p.fim).name},
                  {"l2r", s.jobs.at(p.l2r).name},
                  {"metrics", metrics}});
  }
  nlohmann::json doc{{"jobs", jobs},
                     {"total", to_json(total_of(s))},
                     {"ab", ab},
                     {"wall_s", s.wall_s},
                     {"interrupted", s.interrupted}};
  if (!s.aborted.empty())
    doc["aborted"] = s.aborted;
  if (s.tokens_per_minute > 0) {
    // Utilisation: used / the most a sliding window lets through in the
    // run's time (its whole minutes + 1: a run of 61 s may use two
    // budgets), so it never passes 1 by more than one reservation.
    double minutes = std::floor(std::max(s.wall_s, 0.0) / 60.0) + 1.0;
    doc["token_budget"] = {
      {"tokens_per_minute", s.tokens_per_minute},
      {"reserved", s.tokens_reserved},
      {"used", s.tokens_used},
      {"used_of_reserved",
       s.tokens_reserved > 0
         ? double(s.tokens_used) / double(s.tokens_reserved) : 0.0},
      {"utilisation",
       double(s.tokens_used) / (double(s.tokens_per_minute) * minutes)}};
  }

  if (s.server_max_n > 0)
    doc["server_max_n"] = s.server_max_n;
  if (!s.notes.empty())
    doc["notes"] = s.notes;
  if (!s.concurrency.series.empty()) {
    // The adaptive limit over the run: [[seconds, limit], ...].
    nlohmann::json series = nlohmann::json::array();
    for (auto& [t, l] : s.concurrency.series)
      series.push_back({std::round(t * 1000) / 1000, l});
    doc["concurrency_limit"] = {{"min", s.concurrency.min},
                                {"max", s.concurrency.max},
                                {"final", s.concurrency.final},
                                {"series", series}};
    // Each node's own limit (the sum is above): [{node, base_url, ...}].
    nlohmann::json nodes = nlohmann::json::array();
    for (auto& n : s.concurrency.nodes) {
      nlohmann::json ns = nlohmann::json::array();
      for (auto& [t, l] : n.series)
        ns.push_back({std::round(t * 1000) / 1000, l});
      nodes.push_back({{"node", n.node},
                       {"base_url", n.base_url},
                       {"min", n.min},
                       {"max", n.max},
                       {"final", n.final},
                       {"series", ns}});
    }
    doc["concurrency_limit"]["nodes"] = nodes;
  }
  return doc;
}

} // namespace

std::string render_json(const run_summary& s,
                        const std::vector<ab_pair>& pairs) {
  return report_document(s, pairs).dump(2) + "\n";
}

void write_report(const std::string& dir, const run_summary& s,
                  const std::vector<ab_pair>& pairs) {
  auto doc = report_document(s, pairs);
  write_report_file(dir, "report.json", doc.dump(2) + "\n");
  // The page is drawn from what report.json says, nothing else.
  write_report_file(dir, "report.html", render_report_html(doc));
}

void log_summary(const run_summary& s) {
  for (auto& j : s.jobs)
    spdlog::info("summary {}: {} requests ({} done, {} failed), {} attempts, "
                 "{} retries, {} choices, {} kept, {} duplicates{}, filtered "
                 "{} empty / {} regex / {} weaklist / {} excluded, {:.2f} s, "
                 "{:.1f} req/s, stopped by {}",
                 j.name, j.planned, j.done, j.failed, j.attempts, j.retries(),
                 j.choices, j.kept, j.duplicates,
                 j.near_duplicates > 0
                   ? " + " + std::to_string(j.near_duplicates) + " near"
                   : std::string{},
                 j.filtered_empty,
                 j.filtered_regex, j.filtered_weak, j.filtered_excluded,
                 j.wall_s, rate(j.done + j.failed, j.wall_s),
                 j.stopped_by.empty() ? "-" : j.stopped_by);
  for (auto& note : s.notes)
    spdlog::info("summary: {}", note);
}

int finish_run(const run_summary& s, const std::vector<ab_pair>& pairs,
               const std::string& out_dir, const std::string& resume_hint) {
  log_summary(s);
  try {
    write_report(out_dir, s, pairs);
  } catch (const std::exception& e) {
    if (s.aborted.empty())
      throw;
    spdlog::error("{}", e.what()); // the abort's own cause comes first
  }
  std::fputs(render_table(s).c_str(), stdout);
  std::fputs(render_ab_table(s, pairs).c_str(), stdout);
  std::fflush(stdout);
  if (!s.aborted.empty()) {
    spdlog::error("run aborted: {}; {}/report.json says what was done",
                  s.aborted, out_dir);
    return 1;
  }
  if (s.interrupted) {
    auto sig = stop_signal();
    uint64_t done = 0, planned = 0;
    for (auto& j : s.jobs) {
      done += j.done + j.failed;
      planned += j.planned;
    }
    spdlog::warn("interrupted by {}: {} request(s) finished in this run{}; "
                 "continue with: {}",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", done,
                 planned > done ? " (" + std::to_string(planned) + " planned)"
                                : std::string{},
                 resume_hint);
    return exit_status_for_signal(sig != 0 ? sig : SIGINT);
  }
  uint64_t failed = 0;
  for (auto& j : s.jobs)
    failed += j.failed;
  if (failed == 0)
    return 0;
  spdlog::warn("{} request(s) failed for good: see {}/<job>/failures.jsonl",
               failed, out_dir);
  return 3;
}

} // namespace evo
