// Loading and validating a job manifest (configs/manifests/*.yaml): a base
// datagen config plus a list of jobs, each a FIM or L2R prompt with its own
// sampling, filters and request budget. Everything is checked before any
// request is sent.
//
// The file:
//   base_config: ../datagen.yaml   # REQUIRED: relative to the manifest's folder, else the cwd
//   dedupe: per_job                # optional: per_job (default) | global
//   jobs:                          # REQUIRED: a non-empty list
//     - name: fim_t04              # REQUIRED, unique, [A-Za-z0-9_.-]{1,100}, not "." or "..",
//                                  #   nor a name of the run's own files (report.*, journal.*, *.tmp)
//       mode: fim                  # REQUIRED: fim | l2r
//       prefix: "..."              # fim: REQUIRED non-empty; suffix: optional (default "")
//       # prompt: "..."            # l2r: REQUIRED non-empty
//       temperature: 0.4           # optional overrides of the base config:
//       # top_p, n, stop, max_new_tokens, seed (null = no seed)    <- namegen.*
//       # model                                                    <- models.default
//       # fim_mode: special_tokens|suffix|chat (fim jobs only)     <- api.fim.mode
//       # name_regex, or filters: {name_regex: ...} (not both)     <- filters.name_regex
//       # weaklist: [...]                                          <- namegen.weaklist
//       # stop_when: {new_rate_below: 0.02, window: 2000} (null = none) <- namegen.stop_when
//       num_batches: 15            # exactly one of num_batches (requests)
//       # target_unique: 150       #   or target_unique (distinct kept names wanted)
//       # max_requests: 200        #   with max_requests (required with target_unique,
//                                  #   refused with num_batches, >= ceil(target_unique / n))
//
// Messages (config_error::what(), one line), for a job:
//   "<file>:<line>: job '<name>': key 'jobs[<i>].<key>': expected ..., got ..."
// and, while the job has no valid name yet (a missing or bad name, or an item
// that is not a mapping), "job <i>" in place of "job '<name>'"; <i> is the
// 0-based index in `jobs`, as in the key. A key that is absent is reported on
// the job's first line with "got no such key". Top-level keys use the datagen
// loader's format ("<file>:<line>: key 'dedupe': expected ..., got ...");
// errors of the base config are the datagen loader's own, unchanged.
// Values are checked exactly as the datagen loader checks namegen.*,
// filters.name_regex and api.fim.mode (same "expected ..." texts). Keys that
// configure the run as a whole (api.*, io.*, model_config, ...) are refused
// in a job: "expected a per-job key, got a run-level key (set api.base_url in
// the base config)".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/config/config_loader.hpp" // config_error, env_lookup
#include "messages/settings.hpp"
#include "messages/work.hpp"        // job_mode

namespace evo {

/// per_job: each job dedupes into its own folder only; global: a name kept by
/// any job of the run is not kept again by another.
enum class dedupe_scope : uint8_t { per_job, global };

struct manifest_job {
  std::string name;               ///< unique; [A-Za-z0-9_.-]+ (it becomes a folder name)
  job_mode mode = job_mode::fim;  ///< "fim" | "l2r"
  std::string prefix, suffix;     ///< fim (prefix non-empty; suffix may be empty)
  std::string prompt;             ///< l2r (non-empty)
  std::string model;              ///< base models.default unless overridden (key `model`)
  sampling_params params;         ///< base namegen.* overridden by job keys temperature, top_p, n, stop, max_new_tokens, seed
  fim_config fim;                 ///< base api.fim, overridden by job key `fim_mode`
  std::string name_regex;         ///< base filters.name_regex, overridden by `filters: {name_regex: ...}` or `name_regex`
  std::vector<std::string> weaklist; ///< base namegen.weaklist, overridden by job `weaklist`
  uint64_t num_batches = 0;       ///< requests; exactly one of num_batches / target_unique
  uint64_t target_unique = 0;     ///< distinct kept names wanted
  uint64_t max_requests = 0;      ///< ceiling, required with target_unique (>= 1), refused with num_batches
  stop_rule stop_when;            ///< base namegen.stop_when, overridden by job `stop_when`
};

struct manifest {
  std::string source_file;        ///< the manifest path as given
  datagen_config base;            ///< the base config (api, defaults, io.out_names_dir)
  dedupe_scope dedupe = dedupe_scope::per_job;
  std::vector<manifest_job> jobs; ///< in file order, at least one
};

const char* to_string(dedupe_scope d); ///< "per_job" / "global"

/// Loads a manifest: REQUIRED `base_config:` (a datagen.yaml path relative to
/// the manifest's folder, else to the current directory; loaded with
/// load_datagen_config, whose errors propagate unchanged), optional
/// `dedupe: per_job|global`, REQUIRED non-empty `jobs:` list. Throws
/// config_error (format above).
/// `notes`, when given, receives the base config's notes (see config_notes).
manifest load_manifest(const std::string& path, const env_lookup& env = {},
                       config_notes* notes = nullptr);

} // namespace evo
