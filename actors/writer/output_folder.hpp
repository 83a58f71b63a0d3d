// One job's output folder: names.jsonl (kept records), hash_table.txt (their
// uids, one per line) and failures.jsonl. Ties the keep-or-drop step
// (choice_sieve) to the folder's files (jsonl_file): one write(2) per file
// per batch, so a record reported written survives kill -9 and a crash
// leaves whole lines only. No CAF.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/work.hpp"
#include "actors/writer/choice_sieve.hpp"
#include "actors/writer/json_write.hpp"
#include "actors/writer/jsonl_file.hpp"
#include "actors/writer/record_format.hpp"

namespace evo {

class output_folder {
public:
  /// Creates `dir` if needed (a symbolic link there or at any of its files
  /// is refused), opens its files for appending and loads the records it
  /// already holds (hash_table.txt, reconciled with names.jsonl) into the
  /// sieve's dedupe set (and the texts of names.jsonl into its
  /// near-duplicate detector, when it has one). Throws output_error.
  output_folder(std::string dir, std::string mode, choice_sieve sieve);
  /// A name job's folder. Folders given the same `seen` set dedupe across
  /// each other (a run's `dedupe: global`); by default a folder has a set
  /// of its own.
  output_folder(std::string dir, std::string mode, name_filter filter,
                std::shared_ptr<dedupe_set> seen = nullptr)
    : output_folder(std::move(dir), std::move(mode),
                    choice_sieve::names(std::move(filter), std::move(seen))) {
    // nop
  }
  ~output_folder();
  output_folder(const output_folder&) = delete;
  output_folder& operator=(const output_folder&) = delete;

  /// Records already in the folder when it was opened.
  uint64_t preexisting() const { return preexisting_; }
  /// Records in the folder now.
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
  const choice_sieve& sieve() const { return sieve_; }

private:
  void load_existing();
  void preload_canonical();

  std::string dir_;
  std::string mode_;
  choice_sieve sieve_;
  int dir_fd_ = -1;
  std::optional<jsonl_file> names_;
  std::optional<jsonl_file> hashes_;
  std::optional<jsonl_file> failures_; ///< opened at the first failure
  uint64_t preexisting_ = 0;
  uint64_t count_ = 0;
  std::vector<kept_choice> kept_; // per stage() call (capacity reused)
  std::string buf_;  // staged records (capacity reused)
  std::string uids_; // staged uids, one per line
  uint64_t staged_ = 0;
};

} // namespace evo
