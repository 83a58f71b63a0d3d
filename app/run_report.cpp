#include "app/run_report.hpp"
#include "app/config/config_loader.hpp"

#include "app/stop_signals.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace evo {

namespace {

job_stats total_of(const run_summary& s) {
  job_stats t;
  t.name = "total";
  t.mode = "-";
  for (auto& j : s.jobs)
    t.merge(j);
  t.wall_s = s.wall_s;
  return t;
}

double unique_ratio(const job_stats& j) {
  return j.choices > 0 ? static_cast<double>(j.kept) / j.choices : 0.0;
}

double rate(uint64_t n, double secs) {
  return secs > 0 ? static_cast<double>(n) / secs : 0.0;
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
          {"filtered",
           {{"empty", j.filtered_empty},
            {"regex", j.filtered_regex},
            {"weaklist", j.filtered_weak}}},
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
                    j.filtered_empty + j.filtered_regex + j.filtered_weak),
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

std::string render_json(const run_summary& s,
                        const std::vector<ab_pair>& pairs) {
  nlohmann::json jobs = nlohmann::json::array();
  for (auto& j : s.jobs)
    jobs.push_back(to_json(j));
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
  if (!s.concurrency.series.empty()) {
    // The adaptive limit over the run: [[seconds, limit], ...].
    nlohmann::json series = nlohmann::json::array();
    for (auto& [t, l] : s.concurrency.series)
      series.push_back({std::round(t * 1000) / 1000, l});
    doc["concurrency_limit"] = {{"min", s.concurrency.min},
                                {"max", s.concurrency.max},
                                {"final", s.concurrency.final},
                                {"series", series}};
  }
  return doc.dump(2) + "\n";
}

void write_report(const std::string& dir, const run_summary& s,
                  const std::vector<ab_pair>& pairs) {
  auto path = dir + "/report.json";
  auto tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << render_json(s, pairs);
    if (!f)
      throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

void log_summary(const run_summary& s) {
  for (auto& j : s.jobs)
    spdlog::info("summary {}: {} requests ({} done, {} failed), {} attempts, "
                 "{} retries, {} choices, {} kept, {} duplicates, filtered "
                 "{} empty / {} regex / {} weaklist, {:.2f} s, {:.1f} req/s",
                 j.name, j.planned, j.done, j.failed, j.attempts, j.retries(),
                 j.choices, j.kept, j.duplicates, j.filtered_empty,
                 j.filtered_regex, j.filtered_weak, j.wall_s,
                 rate(j.done + j.failed, j.wall_s));
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
