#include "writer/writer_actor.hpp"

#include "caf/all.hpp"

namespace evo {

namespace {

caf::error output_failure(const std::exception& e) {
  return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
}

} // namespace

writer_actor::behavior_type
writer(writer_actor::stateful_pointer<writer_state> self) {
  return {
    [self](open_atom, const job_output& out) -> caf::result<uint64_t> {
      try {
        auto folder = std::make_unique<output_folder>(
          out.dir, out.mode, name_filter{out.name_regex, out.weaklist});
        auto known = folder->preexisting();
        self->state.folders[out.job] = std::move(folder);
        return known;
      } catch (const std::exception& e) {
        return output_failure(e);
      }
    },
    [self](const write_batch& batch) -> caf::result<write_stats> {
      auto it = self->state.folders.find(batch.job);
      if (it == self->state.folders.end())
        return caf::make_error(caf::sec::runtime_error,
                               "writer: job " + std::to_string(batch.job)
                                 + " has no open folder");
      try {
        return it->second->write(batch.index, batch.model, batch.choices);
      } catch (const std::exception& e) {
        return output_failure(e);
      }
    },
    [self](const failure_record& rec) -> caf::result<uint64_t> {
      auto it = self->state.folders.find(rec.job);
      if (it == self->state.folders.end())
        return caf::make_error(caf::sec::runtime_error,
                               "writer: job " + std::to_string(rec.job)
                                 + " has no open folder");
      try {
        it->second->record_failure(rec);
        return rec.index;
      } catch (const std::exception& e) {
        return output_failure(e);
      }
    },
  };
}

} // namespace evo
