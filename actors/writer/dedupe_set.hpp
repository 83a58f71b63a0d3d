// Deduplication: a record's 64-bit key and uid (from SHA-256 of its name or
// text) and the set of keys a folder already holds, with how often each was
// seen (open addressing, no per-entry allocation: 8 bytes of key and 4 of
// count a slot; 4 more for the kept spelling under dedupe.canonical). No CAF,
// no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace evo {

/// First 8 bytes of SHA-256(text), big-endian: the key behind a uid. `text`
/// is the extracted name, or the stripped completion of a free-text record.
uint64_t uid_key(std::string_view text);

/// The uid: the key as 16 lowercase hex digits (= first 16 hex of SHA-256).
std::string uid_hex(uint64_t key);

/// Parses 16 hex digits back to a key; false (key untouched) when `hex` is
/// not one.
bool parse_uid(std::string_view hex, uint64_t& key);

class dedupe_set {
public:
  dedupe_set();

  /// Inserts `key` with count 0 (and `spelling`, when spellings are kept);
  /// false when it was already there (nothing changes then).
  bool insert(uint64_t key, uint32_t spelling = 0);
  bool contains(uint64_t key) const;

  /// One more sighting of `key` (inserted when absent); returns the count
  /// before it. Counts saturate at UINT32_MAX.
  uint32_t count_sighting(uint64_t key);
  /// Sightings of `key` counted so far (0 when absent).
  uint32_t count(uint64_t key) const;

  /// From now on, insert() remembers a 32-bit spelling per key (which form
  /// of a canonical name was kept); call before the first insert.
  void keep_spellings();
  /// The spelling `key` was inserted with (0 when absent or not kept).
  uint32_t spelling(uint64_t key) const;
  /// Bytes held by the table.
  size_t bytes() const {
    return slots_.capacity() * sizeof(uint64_t)
           + counts_.capacity() * sizeof(uint32_t)
           + spellings_.capacity() * sizeof(uint32_t);
  }
  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }

  /// Calls f(key) for every key, in no particular order.
  template <class F>
  void for_each(F f) const {
    if (has_zero_)
      f(uint64_t{0});
    for (auto k : slots_)
      if (k != 0)
        f(k);
  }

private:
  void grow();
  size_t slot_of(uint64_t key) const;

  // Key 0 marks an empty slot; the real key 0 is tracked on its own.
  // counts_ (and spellings_, when kept) run parallel to slots_.
  std::vector<uint64_t> slots_;
  std::vector<uint32_t> counts_;
  std::vector<uint32_t> spellings_;
  size_t size_ = 0;
  bool has_zero_ = false;
  bool spelled_ = false;
  uint32_t zero_count_ = 0;
  uint32_t zero_spelling_ = 0;
};

} // namespace evo
