// Internal to evo_config. The reader of the datagen config's `api:` section
// (base URL, key, retries, concurrency, HTTP client, headers, FIM, embedded).
#pragma once

#include "app/config/yaml_schema.hpp"

namespace evo::cfg {

/// Validates `api:` of `root` into `out` (absent keys keep their defaults).
void read_api(const src_node& root, api_config& out);

} // namespace evo::cfg
