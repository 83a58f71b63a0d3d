// One job's output folder: names.jsonl (kept records), hash_table.txt (their
// uids, one per line) and failures.jsonl. Append-only, one write(2) per batch,
// so a record reported written survives kill -9 and a crash leaves whole
// lines only (a torn tail from a full disk is cut off on reopen). No CAF.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "messages/work.hpp"
#include "actors/writer/dedupe_set.hpp"
#include "actors/writer/name_filter.hpp"

namespace evo {

/// Thrown when the folder cannot be created, read or written; what() names
/// the file and the system error.
struct output_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class output_folder {
public:
  /// Creates `dir` if needed, opens its files for appending and loads the
  /// names it already holds (hash_table.txt, reconciled with names.jsonl).
  /// Folders given the same `seen` set dedupe across each other (a run's
  /// `dedupe: global`); by default a folder has a set of its own.
  output_folder(std::string dir, std::string mode, name_filter filter,
                std::shared_ptr<dedupe_set> seen = nullptr);
  ~output_folder();
  output_folder(const output_folder&) = delete;
  output_folder& operator=(const output_folder&) = delete;

  /// Names already in the folder when it was opened.
  uint64_t preexisting() const { return preexisting_; }
  /// Names in the folder now.
  uint64_t size() const { return count_; }

  /// Extracts, filters and dedupes the choices of request `request_index`
  /// and appends the kept ones. On return they are in the kernel's hands.
  write_stats write(uint64_t request_index, std::string_view model,
                    const std::vector<std::string>& choices) {
    auto st = stage(request_index, model, choices);
    flush();
    return st;
  }

  /// As write(), but the kept records wait for flush(): a batch of requests
  /// costs one write(2) per file.
  write_stats stage(uint64_t request_index, std::string_view model,
                    const std::vector<std::string>& choices);
  /// Appends everything staged; on return it is in the kernel's hands.
  void flush();

  /// Appends a request that failed for good to failures.jsonl.
  void record_failure(const failure_record& rec);

  const std::string& dir() const { return dir_; }

private:
  void load_existing();
  void append(int fd, const std::string& path, const std::string& data);

  std::string dir_;
  std::string mode_;
  name_filter filter_;
  std::shared_ptr<dedupe_set> seen_;
  uint64_t preexisting_ = 0;
  uint64_t count_ = 0;
  int names_fd_ = -1;
  int hashes_fd_ = -1;
  int failures_fd_ = -1;
  std::string buf_;  // staged records (capacity reused)
  std::string uids_; // staged uids, one per line
  uint64_t staged_ = 0;
};

/// Appends `s` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

/// Current UTC time as 2026-11-26T12:00:00.123Z.
std::string utc_timestamp();

} // namespace evo
