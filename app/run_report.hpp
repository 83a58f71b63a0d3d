// The end of a run for a human and for scripts: log lines, a side-by-side
// table on stdout, <out>/report.json and <out>/report.html. Plain code, no CAF.
#pragma once

#include <string>
#include <vector>

#include "messages/plan.hpp"
#include "messages/stats.hpp"

namespace evo {

/// A FIM job and an L2R job with the same prompt and sampling: the A/B the
/// Python tool ran by hand. Indices into run_summary::jobs.
struct ab_pair {
  size_t fim = 0;
  size_t l2r = 0;
};

/// Log level of a command: warnings only when quiet, debug when verbose.
void set_log_level(bool quiet, bool verbose);

struct config_notes;
/// After set_log_level: the config's logging.level (unless quiet or
/// verbose), then its warnings and notes, once.
void log_config_notes(const config_notes& notes, bool quiet, bool verbose);

/// A fixed-width table, one row per job and a total row.
std::string render_table(const run_summary& s);

/// FIM and L2R side by side, one block per pair ("" when no pair).
std::string render_ab_table(const run_summary& s,
                            const std::vector<ab_pair>& pairs);

/// The summary as JSON (what report.json holds).
std::string render_json(const run_summary& s,
                        const std::vector<ab_pair>& pairs = {});

/// Writes report.json and report.html (drawn from the same document) into
/// `dir`, each atomically and never through a link (write_report_file).
void write_report(const std::string& dir, const run_summary& s,
                  const std::vector<ab_pair>& pairs = {});

/// Logs one summary line per job (spdlog, info).
void log_summary(const run_summary& s);

/// The end of a command's run: summary log, <out>/report.json, the table
/// (and A/B blocks) on stdout. Returns the exit status: 0, 3 when some
/// request failed for good, 1 when the run aborted, 128 + signal when a
/// signal stopped it (the log then says `resume_hint`: how to continue).
int finish_run(const run_summary& s, const std::vector<ab_pair>& pairs,
               const std::string& out_dir,
               const std::string& resume_hint = {});

} // namespace evo
