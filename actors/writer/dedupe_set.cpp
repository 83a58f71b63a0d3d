#include "actors/writer/dedupe_set.hpp"

#include <openssl/sha.h>

namespace evo {

uint64_t uid_key(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i)
    key = (key << 8) | digest[i];
  return key;
}

std::string uid_hex(uint64_t key) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = digits[key & 0xF];
    key >>= 4;
  }
  return out;
}

bool parse_uid(std::string_view hex, uint64_t& key) {
  if (hex.size() != 16)
    return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  key = v;
  return true;
}

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

dedupe_set::dedupe_set() : slots_(1024, 0), counts_(1024, 0) {
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

bool dedupe_set::insert(uint64_t key, uint32_t spelling) {
  if (key == 0) {
    if (has_zero_)
      return false;
    has_zero_ = true;
    zero_spelling_ = spelled_ ? spelling : 0;
    ++size_;
    return true;
  }
  auto i = slot_of(key);
  if (slots_[i] == key)
    return false;
  slots_[i] = key;
  counts_[i] = 0;
  if (spelled_)
    spellings_[i] = spelling;
  ++size_;
  if (size_ * 10 > slots_.size() * 7)
    grow();
  return true;
}

uint32_t dedupe_set::count_sighting(uint64_t key) {
  if (key == 0) {
    insert(0);
    auto before = zero_count_;
    if (zero_count_ != UINT32_MAX)
      ++zero_count_;
    return before;
  }
  auto i = slot_of(key);
  if (slots_[i] != key) {
    insert(key);
    i = slot_of(key); // insert may have grown the table
  }
  auto before = counts_[i];
  if (before != UINT32_MAX)
    counts_[i] = before + 1;
  return before;
}

uint32_t dedupe_set::count(uint64_t key) const {
  if (key == 0)
    return has_zero_ ? zero_count_ : 0;
  auto i = slot_of(key);
  return slots_[i] == key ? counts_[i] : 0;
}

void dedupe_set::keep_spellings() {
  if (spelled_)
    return;
  spelled_ = true;
  spellings_.assign(slots_.size(), 0);
}

uint32_t dedupe_set::spelling(uint64_t key) const {
  if (!spelled_)
    return 0;
  if (key == 0)
    return has_zero_ ? zero_spelling_ : 0;
  auto i = slot_of(key);
  return slots_[i] == key ? spellings_[i] : 0;
}

void dedupe_set::grow() {
  std::vector<uint64_t> old(slots_.size() * 2, 0);
  std::vector<uint32_t> old_counts(old.size(), 0);
  std::vector<uint32_t> old_spellings(spelled_ ? old.size() : 0, 0);
  old.swap(slots_);
  old_counts.swap(counts_);
  old_spellings.swap(spellings_);
  for (size_t j = 0; j < old.size(); ++j) {
    if (old[j] == 0)
      continue;
    auto i = slot_of(old[j]);
    slots_[i] = old[j];
    counts_[i] = old_counts[j];
    if (spelled_)
      spellings_[i] = old_spellings[j];
  }
}

} // namespace evo
