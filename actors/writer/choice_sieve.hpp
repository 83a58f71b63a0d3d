// The writer's keep-or-drop step: from one request's choices to the records
// worth writing. Extract (a name, or the whole stripped text), filter, then
// dedupe against every record the folder (or the run) holds, counting how
// often each valid choice was seen; free texts may also be checked for near
// duplicates (near_dedupe). No CAF, no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/work.hpp"
#include "actors/writer/dedupe_set.hpp"
#include "actors/writer/name_filter.hpp"
#include "actors/writer/richness_estimate.hpp"
#include "actors/writer/near_dedupe.hpp"
#include "actors/writer/top_names.hpp"

namespace evo {

/// Characters of `s` as Python's len() counts them: code points of UTF-8
/// (every byte that is not a continuation byte).
uint64_t utf8_length(std::string_view s);

/// namegen.extract: text: bounds on the stripped text, in characters
/// (0 = unbounded).
struct text_bounds {
  uint64_t min_chars = 0;
  uint64_t max_chars = 0;
};

/// One choice that passed: its index in the request, what the record keeps
/// (the name, or the stripped text; a view into the choice) and its key
/// (uid_key of the text: the record's uid, also under dedupe.canonical).
struct kept_choice {
  uint32_t choice_index = 0;
  std::string_view text;
  uint64_t key = 0;
};

class choice_sieve {
public:
  /// Name jobs: extract_name, then `filter`. `seen` may be shared between
  /// folders (a run's `dedupe: global`); null = a set of its own.
  /// `canonical`: names dedupe by canonical_name(), the first spelling kept.
  static choice_sieve names(name_filter filter,
                            std::shared_ptr<dedupe_set> seen = nullptr,
                            bool canonical = false);
  /// Free-text jobs: strip_text, then `bounds` (no regex, no weak list).
  static choice_sieve texts(text_bounds bounds,
                            std::shared_ptr<dedupe_set> seen = nullptr);
  /// The sieve a job_output asks for (near duplicates too when it sets
  /// near_threshold for a free-text job).
  static choice_sieve for_job(const job_output& out,
                              std::shared_ptr<dedupe_set> seen = nullptr);

  /// Sorts `choices` into kept (appended to `kept`, their keys now in the
  /// dedupe set) and dropped (counted). For texts, an empty one counts as
  /// filtered_empty and one outside the bounds as filtered_regex (the job's
  /// pattern rule); filtered_weak stays 0. Every valid choice (kept or a
  /// duplicate) is one more sighting in frequencies(). With near-duplicate
  /// detection, a text new to the exact dedupe but too close to a kept one
  /// counts as near_duplicates (its key is not added).
  write_stats sift(const std::vector<std::string>& choices,
                   std::vector<kept_choice>& kept);

  /// A record the folder held before this run: `uid` its key, `name` its
  /// func_name (needed under dedupe.canonical; empty = not known). It
  /// counts as kept, not as a sighting of this run.
  void preload(uint64_t uid, std::string_view name = {});

  bool keeps_texts() const { return !filter_.has_value(); }
  bool canonical() const { return canonical_; }
  dedupe_set& seen() { return *seen_; }
  /// How often this job's valid choices repeated, this run.
  const frequency_table& frequencies() const { return freq_; }
  /// Name jobs: this run's most frequent names (empty for free texts).
  /// Under dedupe.canonical a count covers every spelling and the name
  /// shown is the kept spelling once it was sighted while listed.
  const top_names& top() const { return top_; }
  /// Free texts: also drop near duplicates (dedupe.near).
  void detect_near(double threshold, uint32_t shingle) {
    near_.emplace(threshold, shingle);
  }
  /// The near-duplicate detector, or null when off.
  near_dedupe* near() { return near_ ? &*near_ : nullptr; }

private:
  choice_sieve(std::optional<name_filter> filter, text_bounds bounds,
               std::shared_ptr<dedupe_set> seen, bool canonical);

  std::optional<name_filter> filter_; ///< empty = a free-text job
  text_bounds bounds_;
  std::shared_ptr<dedupe_set> seen_;
  /// Per-job counts when seen_ is shared with other jobs (dedupe: global);
  /// null = the counts of seen_ are this job's.
  std::unique_ptr<dedupe_set> own_counts_;
  frequency_table freq_;
  top_names top_;
  bool canonical_ = false;
  std::optional<near_dedupe> near_;
};

} // namespace evo
