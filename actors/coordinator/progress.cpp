#include "actors/coordinator/progress.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>

namespace evo {

double eta_seconds(const progress_row& r) {
  if (r.done)
    return 0;
  if (r.target_unique > 0) {
    if (r.kept >= r.target_unique)
      return 0;
    return r.kept_per_s > 0
             ? static_cast<double>(r.target_unique - r.kept) / r.kept_per_s
             : -1;
  }
  if (r.finished >= r.total)
    return 0;
  return r.requests_per_s > 0
           ? static_cast<double>(r.total - r.finished) / r.requests_per_s
           : -1;
}

std::string render_progress(const progress_row& r) {
  char count[64];
  if (r.target_unique > 0)
    std::snprintf(count, sizeof(count), "%llu/%llu names",
                  static_cast<unsigned long long>(r.kept),
                  static_cast<unsigned long long>(r.target_unique));
  else
    std::snprintf(count, sizeof(count), "%llu/%llu req",
                  static_cast<unsigned long long>(r.finished),
                  static_cast<unsigned long long>(r.total));
  char eta[32];
  auto secs = eta_seconds(r);
  if (r.done)
    std::snprintf(eta, sizeof(eta), "done");
  else if (secs < 0)
    std::snprintf(eta, sizeof(eta), "ETA ?");
  else if (secs < 120)
    std::snprintf(eta, sizeof(eta), "ETA %.0fs", secs);
  else
    std::snprintf(eta, sizeof(eta), "ETA %.0fm", secs / 60);
  char inflight[48];
  if (r.limit > 0) // the adaptive limit next to what is in flight
    std::snprintf(inflight, sizeof(inflight), "%llu/%llu",
                  static_cast<unsigned long long>(r.in_flight),
                  static_cast<unsigned long long>(r.limit));
  else
    std::snprintf(inflight, sizeof(inflight), "%llu",
                  static_cast<unsigned long long>(r.in_flight));
  char line[256];
  std::snprintf(line, sizeof(line),
                "%-16s %-18s kept %-7llu dup %-6llu fail %-4llu retries %-4llu "
                "inflight %-4s %7.1f req/s  %s",
                r.name.c_str(), count, static_cast<unsigned long long>(r.kept),
                static_cast<unsigned long long>(r.duplicates),
                static_cast<unsigned long long>(r.failed),
                static_cast<unsigned long long>(r.retries),
                inflight, r.requests_per_s,
                eta);
  std::string out = line;
  if (r.tpm_budget > 0) {
    char tpm[64];
    std::snprintf(tpm, sizeof(tpm), "  TPM %llu/%llu",
                  static_cast<unsigned long long>(r.tpm_used),
                  static_cast<unsigned long long>(r.tpm_budget));
    out += tpm;
  }
  if (!r.nodes.empty())
    out += "  nodes " + r.nodes;
  return out;
}

void configure_progress(run_plan& plan, bool quiet) {
  if (quiet) {
    plan.progress = progress_mode::none;
  } else if (::isatty(STDERR_FILENO)) {
    plan.progress = progress_mode::tty;
    plan.progress_interval = std::chrono::milliseconds(500);
  } else {
    plan.progress = progress_mode::log;
    plan.progress_interval = std::chrono::seconds(2);
  }
}

void progress_display::show(const std::vector<progress_row>& rows,
                            bool final) {
  if (mode_ == progress_mode::none)
    return;
  if (mode_ == progress_mode::log) {
    if (!final)
      for (auto& row : rows)
        spdlog::info("{}", render_progress(row));
    return;
  }
  std::string out;
  if (tty_lines_ > 0)
    out += "\x1b[" + std::to_string(tty_lines_) + "F"; // back to the first line
  for (auto& row : rows)
    out += "\x1b[2K" + render_progress(row) + "\n";
  tty_lines_ = rows.size();
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

void progress_display::job_finished(const job_stats& s) const {
  if (mode_ == progress_mode::log)
    spdlog::info("{}: finished: {} requests, {} kept, {} failed", s.name,
                 s.done + s.failed, s.kept, s.failed);
}

} // namespace evo
