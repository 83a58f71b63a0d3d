#include "actors/writer/near_dedupe.hpp"

#include <algorithm>
#include <cmath>

namespace evo {

namespace {

// The signature has 128 values: the estimate's spread at t = 0.8 is about
// 0.05 (binomial over 25 bands of 5), and the cost stays near 128
// multiply-adds per shingle (~100k records/s of 100 words on one core).
constexpr uint32_t signature_values = 128;

// Bands of at most 5 rows: two unrelated texts (Jaccard <= 0.1) share a
// band with probability <= 25 * 0.1^5 = 2.5e-4, so a lookup meets almost
// no spurious candidates however many records are kept; fewer rows would
// make every lookup walk many of them.
constexpr uint32_t max_rows = 5;

// murmur3's 64-bit finaliser: every input bit moves every output bit.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline bool word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
         || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

// Seeds are fixed: the same text gives the same keys in every run, so a
// folder's records can be reloaded and compared with new ones.
constexpr uint64_t hash_seed = 0x6e6561725f647570ULL; // "near_dup"

// A slot holds 32 bits of a band key and the record's id; the slot's
// position derives from those 32 bits alone, so the table can grow without
// the full keys. Two different keys agree on them with probability 2^-32.
inline uint32_t fingerprint(uint64_t key) {
  return static_cast<uint32_t>(key >> 32) ^ static_cast<uint32_t>(key);
}

inline size_t position(uint32_t fingerprint, size_t mask) {
  return static_cast<size_t>(mix64(fingerprint)) & mask;
}

} // namespace

lsh_shape lsh_shape_for(double threshold) {
  lsh_shape s;
  for (uint32_t rows = max_rows; rows >= 1; --rows) {
    uint32_t bands = signature_values / rows;
    double expected = bands * std::pow(threshold, rows);
    // At least two bands expected to match at the threshold, so that the
    // count says something (rows = 1 always qualifies for t >= 1/64).
    if (expected >= 2.0 || rows == 1) {
      s.rows = rows;
      s.bands = bands;
      // estimated J = (m / bands)^(1 / rows) >= t  <=>  m >= bands * t^rows
      s.min_matches = static_cast<uint32_t>(std::ceil(expected - 1e-9));
      s.min_matches = std::clamp(s.min_matches, 1u, bands);
      return s;
    }
  }
  return s; // not reached
}

void word_hashes(std::string_view text, std::vector<uint64_t>& out) {
  out.clear();
  uint64_t h = 0;
  uint64_t len = 0;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (word_byte(c)) {
      if (len == 0)
        h = 0xcbf29ce484222325ULL; // FNV-1a over the lower-cased bytes
      if (c >= 'A' && c <= 'Z')
        c = static_cast<unsigned char>(c - 'A' + 'a');
      h = (h ^ c) * 0x100000001b3ULL;
      ++len;
    } else if (len != 0) {
      out.push_back(mix64(h ^ len));
      len = 0;
    }
  }
  if (len != 0)
    out.push_back(mix64(h ^ len));
}

namespace {

void shingles_of(const std::vector<uint64_t>& words, uint32_t shingle,
                 std::vector<uint64_t>& out) {
  out.clear();
  if (words.empty())
    return;
  size_t k = std::min<size_t>(shingle, words.size());
  for (size_t i = 0; i + k <= words.size(); ++i) {
    uint64_t h = hash_seed;
    for (size_t j = 0; j < k; ++j) // order matters: "a b" != "b a"
      h = mix64(h * 0x9e3779b97f4a7c15ULL + words[i + j]);
    out.push_back(h);
  }
}

} // namespace

void shingle_hashes(std::string_view text, uint32_t shingle,
                    std::vector<uint64_t>& out) {
  std::vector<uint64_t> words;
  word_hashes(text, words);
  shingles_of(words, shingle, out);
}

near_dedupe::near_dedupe(double threshold, uint32_t shingle)
  : shape_(lsh_shape_for(threshold)), shingle_(std::max(shingle, 1u)) {
  uint32_t n = shape_.bands * shape_.rows;
  mul_.resize(n);
  add_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    mul_[i] = mix64(hash_seed + 2 * i) | 1; // odd: a bijection of 64 bits
    add_[i] = mix64(hash_seed + 2 * i + 1);
  }
  slots_.resize(1024);
}

bool near_dedupe::band_keys(std::string_view text) {
  word_hashes(text, words_);
  shingles_of(words_, shingle_, shingles_);
  keys_.clear();
  if (shingles_.empty())
    return false;
  const size_t n = mul_.size();
  signature_.assign(n, UINT32_MAX);
  // Multiply-add-shift: value i of a shingle is the top half of
  // mul_i * x + add_i; the signature keeps each value's minimum.
  for (uint64_t x : shingles_)
    for (size_t i = 0; i < n; ++i) {
      auto v = static_cast<uint32_t>((mul_[i] * x + add_[i]) >> 32);
      signature_[i] = std::min(signature_[i], v);
    }
  for (uint32_t b = 0; b < shape_.bands; ++b) {
    // The band's index is part of its key: equal values in different bands
    // are not a match.
    uint64_t h = mix64(hash_seed ^ (b + 1));
    for (uint32_t r = 0; r < shape_.rows; ++r)
      h = mix64(h ^ signature_[b * shape_.rows + r]);
    keys_.push_back(h);
  }
  return true;
}

void near_dedupe::grow() {
  std::vector<slot> old(slots_.size() * 2);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (auto& s : old) {
    if (s.id == empty_id)
      continue;
    size_t pos = position(s.fingerprint, mask);
    while (slots_[pos].id != empty_id)
      pos = (pos + 1) & mask;
    slots_[pos] = s;
  }
}

void near_dedupe::insert_keys() {
  auto id = static_cast<uint32_t>(records_);
  for (uint64_t key : keys_) {
    // Grow at 3/4 full: linear probing stays short on misses, the common
    // case (most records are new).
    if ((used_ + 1) * 4 > slots_.size() * 3)
      grow();
    auto fp = fingerprint(key);
    const size_t mask = slots_.size() - 1;
    size_t pos = position(fp, mask);
    while (slots_[pos].id != empty_id)
      pos = (pos + 1) & mask;
    slots_[pos] = {fp, id};
    ++used_;
  }
  ++records_;
}

bool near_dedupe::keep(std::string_view text) {
  if (!band_keys(text))
    return true;
  candidates_.clear();
  const size_t mask = slots_.size() - 1;
  for (uint64_t key : keys_) {
    auto fp = fingerprint(key);
    for (size_t pos = position(fp, mask); slots_[pos].id != empty_id;
         pos = (pos + 1) & mask) {
      if (slots_[pos].fingerprint != fp)
        continue;
      uint32_t id = slots_[pos].id;
      auto it = std::find_if(candidates_.begin(), candidates_.end(),
                             [id](auto& c) { return c.first == id; });
      if (it == candidates_.end()) {
        candidates_.emplace_back(id, 0);
        it = candidates_.end() - 1;
      }
      if (++it->second >= shape_.min_matches)
        return false;
    }
  }
  insert_keys();
  return true;
}

void near_dedupe::remember(std::string_view text) {
  if (band_keys(text))
    insert_keys();
}

double near_dedupe::estimate(std::string_view a, std::string_view b) {
  if (!band_keys(a))
    return 0.0;
  std::vector<uint64_t> ka = keys_;
  if (!band_keys(b))
    return 0.0;
  uint32_t m = 0;
  for (size_t i = 0; i < keys_.size(); ++i)
    m += ka[i] == keys_[i] ? 1 : 0;
  return std::pow(static_cast<double>(m) / shape_.bands, 1.0 / shape_.rows);
}

} // namespace evo
