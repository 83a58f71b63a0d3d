// The end of a run for a human and for scripts: log lines, a side-by-side
// table on stdout and <out>/report.json. Plain code, no CAF.
#pragma once

#include <string>

#include "messages/report.hpp"

namespace evo {

/// A fixed-width table, one row per job and a total row.
std::string render_table(const run_summary& s);

/// The summary as JSON (what report.json holds).
std::string render_json(const run_summary& s);

/// Writes report.json into `dir` atomically (temp file + rename).
void write_report(const std::string& dir, const run_summary& s);

/// Logs one summary line per job (spdlog, info).
void log_summary(const run_summary& s);

} // namespace evo
