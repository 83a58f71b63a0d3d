// Helpers for tests that run build/evoselfcode against a simulator and read
// the files it wrote.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"

namespace evo::test {

struct cli_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs build/evoselfcode with `args`; kills it after `limit`.
cli_result run_cli(std::vector<std::string> args,
                   std::vector<std::string> env = {},
                   std::chrono::seconds limit = std::chrono::seconds(120));

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);
std::vector<std::string> read_lines(const std::string& path);
bool file_exists(const std::string& path);

/// A datagen.yaml + model.yaml pair in `dir`; `model_extra` and
/// `datagen_extra` are YAML appended under api: and at top level.
struct test_config {
  std::string base_url;
  int num_batches = 5;
  int n = 4;
  int pool = 4;
  bool semaphore = true;     ///< write semaphore_size: pool (else omit it)
  int max_retries = 2;
  double backoff_base_s = 0.05;
  std::string api_extra;     ///< lines inside api: (indented 2)
  std::string namegen_extra; ///< lines inside namegen: (indented 2)
  std::string top_extra;     ///< top-level lines
};
std::string write_config(const std::string& dir, const test_config& c);

/// Parsed names.jsonl records; fails the current test on a torn line.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

/// A run journal's items per job (the header line skipped); `lines`: how
/// many item lines it holds.
std::map<std::string, std::set<uint64_t>> journal_items(const std::string& path,
                                                        size_t* lines = nullptr);

/// Sim log lines (one JSON object per request).
std::vector<nlohmann::json> read_sim_log(const std::string& path);

} // namespace evo::test
