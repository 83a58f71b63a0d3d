#include "actors/writer/dedupe_set.hpp"

namespace evo {

namespace {

uint64_t mix(uint64_t k) {
  // Keys are SHA-256 prefixes, already uniform; mixing guards against
  // keys that come from elsewhere.
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}

} // namespace

dedupe_set::dedupe_set() : slots_(1024, 0) {
  // nop
}

size_t dedupe_set::slot_of(uint64_t key) const {
  auto mask = slots_.size() - 1;
  auto i = mix(key) & mask;
  while (slots_[i] != 0 && slots_[i] != key)
    i = (i + 1) & mask;
  return i;
}

bool dedupe_set::contains(uint64_t key) const {
  if (key == 0)
    return has_zero_;
  return slots_[slot_of(key)] == key;
}

bool dedupe_set::insert(uint64_t key) {
  if (key == 0) {
    if (has_zero_)
      return false;
    has_zero_ = true;
    ++size_;
    return true;
  }
  auto i = slot_of(key);
  if (slots_[i] == key)
    return false;
  slots_[i] = key;
  ++size_;
  if (size_ * 10 > slots_.size() * 7)
    grow();
  return true;
}

void dedupe_set::grow() {
  std::vector<uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  for (auto k : old)
    if (k != 0)
      slots_[slot_of(k)] = k;
}

} // namespace evo
