// Actor shell around output_folder and run_journal: owns every job's folder
// of a run. It runs on the scheduler although it calls write(2): appends to
// the page cache take microseconds, and a detached writer cost a thread
// wake-up per batch (docs/DESIGN.md, "One CAF scheduler thread").
#pragma once

#include <memory>
#include <unordered_map>

#include "messages/interfaces.hpp"
#include "actors/writer/output_folder.hpp"
#include "actors/writer/run_journal.hpp"

namespace evo {

struct writer_state {
  static inline const char* name = "writer";
  struct job_files {
    std::string name;
    std::unique_ptr<output_folder> folder;
  };
  std::unordered_map<uint32_t, job_files> jobs;
  std::shared_ptr<run_journal> journal;   ///< null = no journal
  std::shared_ptr<dedupe_set> global_seen; ///< null = dedupe per job

  job_files* find(uint32_t job);
};

/// `journal` (may be null) records every finished item after its names;
/// `global_dedupe` makes all folders share one dedupe set.
writer_actor::behavior_type
writer(writer_actor::stateful_pointer<writer_state> self,
       std::shared_ptr<run_journal> journal, bool global_dedupe);

} // namespace evo
