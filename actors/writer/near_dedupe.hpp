// Near-duplicate detection of free-text records (dedupe.near): MinHash over
// word shingles, LSH banding, streaming. A record is dropped when its
// estimated Jaccard similarity with a record kept earlier reaches the
// threshold; only band keys of kept records are held, never their texts.
// No CAF, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace evo {

/// How the 128-value MinHash signature is cut, derived from the threshold t
/// (see lsh_shape_for): `bands` bands of `rows` values each; two records
/// are near duplicates when at least `min_matches` of their bands are equal,
/// i.e. when their estimated Jaccard (matches / bands)^(1 / rows) >= t.
struct lsh_shape {
  uint32_t rows = 0;
  uint32_t bands = 0;
  uint32_t min_matches = 0;
};

/// rows = 5 (at most, see the .cpp for why), fewer when fewer than two
/// bands would match at the threshold; bands = 128 / rows; min_matches =
/// ceil(bands * t^rows). `threshold` in [0.5, 1] (the config's range).
lsh_shape lsh_shape_for(double threshold);

/// The words of `text`: runs of ASCII letters and digits and of non-ASCII
/// bytes (UTF-8 letters), ASCII lower-cased; everything else separates.
/// Each word as a 64-bit hash, in order.
void word_hashes(std::string_view text, std::vector<uint64_t>& out);

/// One 64-bit hash per `shingle`-word window of `text`, in order;
/// a text of fewer words (at least one) is one shingle of all its words,
/// a text without words has none.
void shingle_hashes(std::string_view text, uint32_t shingle,
                    std::vector<uint64_t>& out);

class near_dedupe {
public:
  explicit near_dedupe(double threshold = 0.8, uint32_t shingle = 5);

  /// Checks `text` against every record kept so far. A near duplicate of
  /// one (estimated Jaccard >= threshold) returns false and is not
  /// remembered; any other text is remembered and returns true. A text
  /// without words is kept unchecked (exact dedupe still applies to it).
  bool keep(std::string_view text);
  /// Remembers `text` without checking it (records already in a folder).
  void remember(std::string_view text);

  /// Estimated Jaccard of two texts from their band agreement, the number
  /// keep() compares with the threshold; for tests and benchmarks.
  double estimate(std::string_view a, std::string_view b);

  const lsh_shape& shape() const { return shape_; }
  uint32_t shingle() const { return shingle_; }
  /// Records remembered.
  size_t size() const { return records_; }
  /// Bytes held for the remembered records (the band table).
  size_t memory_bytes() const { return slots_.capacity() * sizeof(slot); }

private:
  struct slot {
    uint32_t fingerprint = 0;
    uint32_t id = empty_id;
  };
  static constexpr uint32_t empty_id = UINT32_MAX;

  /// Fills keys_ with the band keys of `text`; false when it has no words.
  bool band_keys(std::string_view text);
  void insert_keys();
  void grow();

  lsh_shape shape_;
  uint32_t shingle_;
  std::vector<uint64_t> mul_, add_; // one hash function per signature value
  std::vector<slot> slots_;         // all bands' keys, open addressing
  size_t used_ = 0;
  size_t records_ = 0;
  // Scratch, capacity reused between calls.
  std::vector<uint64_t> words_, shingles_, keys_;
  std::vector<uint32_t> signature_;
  std::vector<std::pair<uint32_t, uint32_t>> candidates_; // id, matches
};

} // namespace evo
