// Internal to evo_config (includes yaml-cpp through yaml_schema.hpp). The
// keys and rules of the Python tool's config layout that the datagen loader
// (config_loader.cpp) applies: `pass` placeholders, model_config lookup, the
// models: catalogue, logging.level, other stages' keys, the free-text rule,
// and namegen.extra_body.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "app/config/yaml_schema.hpp"

namespace evo::cfg {

/// `api: pass` (a plain scalar `pass` where a mapping goes: a placeholder in
/// the Python tool's shipped file) becomes an empty section, with a warning.
/// Any other scalar there stays an error (reported later).
void drop_placeholders(src_node& n, const std::string& path,
                       config_notes* notes);

/// Where `want` (model_config of `current`) may be, in the Python tool's
/// order: the file's folder, the enclosing configs/ folder and the project
/// folder holding it, the current directory. Each with why, for the log;
/// `configs_root` is set to the configs/ folder when there is one.
std::vector<std::pair<std::filesystem::path, std::string>>
model_config_candidates(const std::string& current,
                        const std::filesystem::path& want,
                        std::filesystem::path& configs_root);

/// `namegen.extra_body`: a mapping merged into every request body, as JSON
/// text; the keys this tool sets itself are refused.
std::string read_extra_body(const src_node& n, const std::string& path);

/// `models:` default (an alias or a model name) and the catalogue of
/// models.<alias>: {name, max_tokens, supports_fim, supports_logprobs}.
void read_models(const src_node& root, datagen_config& out, config_notes* notes);

/// `logging.level` (DEBUG, INFO, WARNING, ERROR, CRITICAL; any case).
void read_logging(const src_node& root, config_notes* notes);

/// What follows from the whole file: the free-text rule of the Python
/// tool's latest layout and the catalogue's max_tokens cap.
void apply_python_rules(const src_node& root, datagen_config& out,
                        config_notes* notes);

/// Keys of the Python tool's other stages: accepted, told once, not used.
void note_unused(const src_node& root, config_notes* notes);

} // namespace evo::cfg
