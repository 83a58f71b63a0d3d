// Deduplication: a record's 64-bit key and uid (from SHA-256 of its name or
// text) and the set of keys a folder already holds (8 bytes a record, open
// addressing, no per-entry allocation). No CAF, no I/O.
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

  /// Inserts `key`; false when it was already there.
  bool insert(uint64_t key);
  bool contains(uint64_t key) const;
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
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
  bool has_zero_ = false;
};

} // namespace evo
