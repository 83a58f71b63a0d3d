// Loading and validating configs/datagen.yaml (+ the model.yaml it names)
// into the plain structs of messages/config.hpp. The only place that knows
// about YAML; the keys are those of the Python tool.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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

/// What loading found worth telling the user, for the caller to log once
/// its log level is set (the loader itself does not log).
struct config_notes {
  std::vector<std::string> info;     ///< e.g. which model_config file was used
  std::vector<std::string> warnings; ///< e.g. `api: pass` ignored
  /// logging.level as an spdlog level name (debug, info, warn, err), if set.
  std::optional<std::string> log_level;
};

/// Largest config, model_config, manifest or base_config file read (bytes).
constexpr uint64_t max_config_file_bytes = uint64_t{64} << 20;
/// Ceiling of the request pool (--concurrency, max_concurrent_requests).
constexpr int max_pool_size = 65536;

/// Loads configs/datagen.yaml (or any datagen file), follows `model_config:`
/// (resolved like the Python tool: relative to the file's folder, then to the
/// enclosing `configs/` folder and the project folder holding it, then to the
/// current dir; chains are followed, cycles are an error), deep-merges (the
/// datagen file wins key by key), validates, fills datagen_config. Every file
/// must be a regular file of at most max_config_file_bytes. Throws
/// config_error. `notes`, when given, receives what should be logged.
datagen_config load_datagen_config(const std::string& path,
                                   const env_lookup& env = {},
                                   config_notes* notes = nullptr);

/// The catalogue entry `name_or_alias` names (by alias, else by model
/// name), or nullptr.
const model_entry* find_model(const datagen_config& cfg,
                              const std::string& name_or_alias);

/// Throws config_error when `model` is in the catalogue with
/// supports_fim: false (a FIM job cannot use it); `who` says which job.
void require_fim_support(const datagen_config& cfg, const std::string& model,
                         const std::string& who);

/// The pool size check shared by --concurrency and
/// api.concurrency.max_concurrent_requests: 1..max_pool_size and within what
/// RLIMIT_NOFILE allows (one socket per request in flight). Returns "" when
/// fine, else the "expected ..., got ..." text.
std::string pool_size_problem(long long n);

/// The rate-limit check shared by --rate-limit and
/// api.concurrency.rate_limit_per_second: a finite number > 0. Returns ""
/// when fine, else the "expected ..., got ..." text.
std::string rate_limit_problem(double v);

/// "http://h:8000" -> "http://h:8000/v1"; "http://h/v1/" -> "http://h/v1";
/// "embedded" stays; anything not http(s):// or embedded -> throws
/// config_error "<what>: expected ..., got ..." (e.g. what = "--base-url" or
/// "file:line: key 'api.base_url'").
std::string normalize_base_url(const std::string& url, const std::string& what);

} // namespace evo
