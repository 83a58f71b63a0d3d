// Internal to evo_config. Reading a datagen file and the model_config chain
// it names into one merged tree (each node keeps the file it came from).
#pragma once

#include <string>

#include "app/config/yaml_schema.hpp"

namespace evo::cfg {

/// Reads `path` and every file its model_config chain names, and merges them
/// (later files are the base, earlier ones win).
src_node load_tree(const std::string& path, config_notes* notes);

} // namespace evo::cfg
