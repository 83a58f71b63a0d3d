// Actor shell around output_folder: owns every job's folder of a run. Spawn
// it detached: it does blocking file I/O.
#pragma once

#include <memory>
#include <unordered_map>

#include "messages/interfaces.hpp"
#include "writer/output_folder.hpp"

namespace evo {

struct writer_state {
  static inline const char* name = "writer";
  std::unordered_map<uint32_t, std::unique_ptr<output_folder>> folders;
};

writer_actor::behavior_type
writer(writer_actor::stateful_pointer<writer_state> self);

} // namespace evo
