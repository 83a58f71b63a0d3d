// Loading and validating configs/datagen.yaml (+ the model.yaml it names)
// into the plain structs of messages/config.hpp. The only place that knows
// about YAML; the keys are those of the Python tool.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "messages/settings.hpp"

namespace evo {

/// Thrown for any bad config; what() is one line:
///   "<file>:<line>: key '<dotted.key>': <what was expected>, got <what was found>"
/// (line 1-based; for a missing file: "<file>: cannot read: <strerror>"; for
/// YAML syntax: "<file>:<line>:<col>: YAML syntax error: <msg>"; for an empty
/// file or a top level that is not a mapping:
///   "<file>:<line>: top level: expected a mapping of config keys, got ...").
/// <file> is the path as given to load_datagen_config for the datagen file,
/// and (datagen file's folder / model_config) for a file it names (or
/// model_config as written when found relative to the current directory).
/// The api_key value never appears in a message.
struct config_error : std::runtime_error {
  /// Control characters from the file (a newline in a key, an echoed
  /// escape) are shown escaped: the message stays one line.
  explicit config_error(const std::string& what);
};

/// Looks up an environment variable; an empty std::function means std::getenv.
using env_lookup =
  std::function<std::optional<std::string>(const std::string&)>;

/// Loads configs/datagen.yaml (or any datagen file), follows `model_config:`
/// (path relative to the datagen file's folder; if not found there, relative
/// to the current dir; chains are followed, cycles are an error), deep-merges
/// (the datagen file wins key by key), validates, fills datagen_config.
/// Throws config_error.
datagen_config load_datagen_config(const std::string& path,
                                   const env_lookup& env = {});

/// "http://h:8000" -> "http://h:8000/v1"; "http://h/v1/" -> "http://h/v1";
/// "embedded" stays; anything not http(s):// or embedded -> throws
/// config_error "<what>: expected ..., got ..." (e.g. what = "--base-url" or
/// "file:line: key 'api.base_url'").
std::string normalize_base_url(const std::string& url, const std::string& what);

} // namespace evo
