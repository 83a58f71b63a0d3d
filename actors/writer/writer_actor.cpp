#include "actors/writer/writer_actor.hpp"

#include "caf/all.hpp"

#include <algorithm>
#include <vector>

namespace evo {

namespace {

caf::error output_failure(const std::string& what) {
  return caf::make_error(caf::sec::runtime_error, what);
}

caf::error no_folder(uint32_t job) {
  return output_failure("writer: job " + std::to_string(job)
                        + " has no open folder");
}

} // namespace

writer_state::job_files* writer_state::find(uint32_t job) {
  auto it = jobs.find(job);
  return it == jobs.end() ? nullptr : &it->second;
}

writer_actor::behavior_type
writer(writer_actor::stateful_pointer<writer_state> self,
       std::shared_ptr<run_journal> journal, bool global_dedupe) {
  self->state.journal = std::move(journal);
  if (global_dedupe)
    self->state.global_seen = std::make_shared<dedupe_set>();
  return {
    [self](open_atom, const job_output& out) -> caf::result<uint64_t> {
      try {
        auto folder = std::make_unique<output_folder>(
          out.dir, out.mode,
          choice_sieve::for_job(out, self->state.global_seen));
        auto known = folder->preexisting();
        self->state.jobs[out.job] = {out.name, std::move(folder)};
        return known;
      } catch (const std::exception& e) {
        return output_failure(e.what());
      }
    },
    [self](const write_batch& batch) -> caf::result<write_report> {
      auto& st = self->state;
      std::vector<writer_state::job_files*> files; // one per item
      files.reserve(batch.items.size());
      for (auto& item : batch.items) {
        files.push_back(st.find(item.job));
        if (files.back() == nullptr)
          return no_folder(item.job);
      }
      write_report report;
      report.items.reserve(batch.items.size());
      try {
        for (size_t i = 0; i < batch.items.size(); ++i) {
          auto& item = batch.items[i];
          report.items.push_back(
            files[i]->folder->stage(item.index, item.model, item.choices));
        }
        // Names first, then the journal: a journaled item has its names on
        // disk. flush() of a folder with nothing staged writes nothing.
        for (auto* job : files)
          job->folder->flush();
        // Each job's frequency table once (a run has few jobs).
        for (size_t i = 0; i < batch.items.size(); ++i) {
          auto job = batch.items[i].job;
          auto& fr = report.frequencies;
          if (std::none_of(fr.begin(), fr.end(),
                           [job](const job_frequencies& f) { return f.job == job; }))
            fr.push_back({job, files[i]->folder->sieve().frequencies().buckets(),
                          files[i]->folder->sieve().top().sorted()});
        }
        if (st.journal) {
          for (size_t i = 0; i < batch.items.size(); ++i)
            st.journal->stage(files[i]->name, batch.items[i].index, true);
          st.journal->flush();
        }
      } catch (const std::exception& e) {
        return output_failure(e.what());
      }
      return report;
    },
    [self](const failure_record& rec) -> caf::result<uint64_t> {
      auto* job = self->state.find(rec.job);
      if (job == nullptr)
        return no_folder(rec.job);
      try {
        job->folder->record_failure(rec);
        if (self->state.journal)
          self->state.journal->record(job->name, rec.index, false);
        return rec.index;
      } catch (const std::exception& e) {
        return output_failure(e.what());
      }
    },
  };
}

} // namespace evo
