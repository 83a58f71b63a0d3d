// A job's most frequent names, exactly, in K entries: fed one sighting at a
// time with the name's exact count (from the dedupe set), it holds the K
// names with the highest counts and only their text. No CAF, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages/work.hpp"

namespace evo {

/// Why it is exact: counts grow by one per sighting, so a name outside the
/// list can only overtake the list's smallest entry on the sighting that
/// lifts it one above that entry's count; admitting it then (evicting the
/// smallest entry, of equal counts the one that reached its count last)
/// keeps the list the K largest counts, ties ranked by who reached the
/// count first.
class top_names {
public:
  static constexpr size_t default_k = 20;

  explicit top_names(size_t k = default_k) : k_(k) {
    entries_.reserve(k);
  }

  /// `key` (the dedupe key) was seen once more and has now been seen
  /// `count` times; `name` is its text in this sighting. `kept_spelling`:
  /// `name` is the form names.jsonl holds (false for another spelling of a
  /// canonical name). The text is copied only when the name is listed; a
  /// listed name shown in another spelling takes the kept one when it
  /// comes by.
  void sighting(uint64_t key, uint64_t count, std::string_view name,
                bool kept_spelling = true);

  /// The listed names, by count (highest first), then by who reached the
  /// count first.
  std::vector<name_count> sorted() const;

  size_t k() const { return k_; }
  size_t size() const { return entries_.size(); }

private:
  struct entry {
    uint64_t key = 0;
    uint64_t count = 0;
    uint64_t reached = 0; ///< sighting number at which it reached `count`
    std::string name;
    bool kept_spelling = true;
  };

  size_t k_;
  uint64_t sightings_ = 0;
  std::vector<entry> entries_; ///< at most k_, in no particular order
};

} // namespace evo
