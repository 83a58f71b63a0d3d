// The set of names a folder already holds, as 64-bit keys (8 bytes a name,
// open addressing, no per-entry allocation). No CAF, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace evo {

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
