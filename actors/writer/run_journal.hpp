// The run journal: which work items of which job are finished, so that
// `--resume` sends none of them again. Append-only JSON lines in
// <out>/journal.jsonl, written by the writer right after the item's names
// (so an item in the journal has its names on disk; a kill between the two
// only means the item is sent again and its names deduped). No CAF.
//
// Format, one JSON object per line:
//   {"journal":1,"jobs":["fim_a","l2r_a"]}      first line: version, job names
//   {"job":"fim_a","index":12,"ok":true}        item 12 written
//   {"job":"fim_a","index":13,"ok":false}       item 13 recorded as failed
// A torn last line (kill -9 mid-write) is cut on open.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/writer/jsonl_file.hpp"

namespace evo {

/// The journal belongs to another run (it exists without --resume, or names
/// other jobs): a usage problem, nothing was written.
struct journal_conflict : output_error {
  using output_error::output_error;
};

class run_journal {
public:
  struct job_entry {
    std::vector<uint64_t> finished; ///< sorted, unique
    uint64_t failed = 0;
  };

  /// Opens (creating if needed) the journal at `path` for a run of `jobs`.
  /// With `resume`, an existing journal is loaded and must name the same
  /// jobs; without, an existing non-empty journal is an error (the folder
  /// holds another run). Throws journal_conflict for those two, output_error
  /// for the rest (a symbolic link there, a torn file, I/O).
  run_journal(std::string path, const std::vector<std::string>& jobs,
              bool resume);
  ~run_journal();
  run_journal(const run_journal&) = delete;
  run_journal& operator=(const run_journal&) = delete;

  /// What an earlier run finished, by job name.
  const std::map<std::string, job_entry>& loaded() const { return loaded_; }

  /// Appends one finished item.
  void record(const std::string& job, uint64_t index, bool ok) {
    stage(job, index, ok);
    flush();
  }
  /// Queues one finished item for the next flush().
  void stage(const std::string& job, uint64_t index, bool ok);
  /// Appends every staged item with one write(2).
  void flush();

  const std::string& path() const { return path_; }

private:
  std::string path_;
  std::unique_ptr<jsonl_file> file_;
  std::map<std::string, job_entry> loaded_;
  std::string line_;
};

} // namespace evo
