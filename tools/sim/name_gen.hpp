// Name generation for the simulator: plausible algorithm function names
// (snake_case verb/qualifier/noun combinations, LeetCode style), with a
// temperature-dependent spread, occasional junk, and deterministic RNG.
// No HTTP in here; sim_server.cpp uses it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace evo::sim::detail {

// splitmix64 finaliser: a good 64-bit mixer.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a, then mixed.
inline uint64_t hash_bytes(std::string_view s, uint64_t seed = 0) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return mix64(h);
}

// splitmix64 generator: tiny, fast, deterministic.
struct rng {
  uint64_t state;
  explicit rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0,1)
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
};

// What a sampling request asks for, as far as the text is concerned.
struct sample_params {
  double temperature = 1.0;
  double top_p = 1.0;
  uint64_t prompt_hash = 0;  // different prompts favour different names
};

class name_generator {
 public:
  // vocabulary 0: default word lists (famous names first, then word
  // combinations, spread by temperature). N > 0: uniform over N distinct names.
  explicit name_generator(int vocabulary = 0);

  // A clean, valid snake_case name.
  std::string name(rng& r, const sample_params& p) const;

  // The text of one FIM choice: a name, occasionally junk (empty, CamelCase,
  // digit first, "Solution", trailing space).
  std::string fim_text(rng& r, const sample_params& p) const;

  // The text of one L2R choice: "name(args):\n    body\n", occasionally junk.
  std::string l2r_text(rng& r, const sample_params& p) const;

  // --text-variants: a problem description, one of `bases` fixed texts of
  // 60-120 words with its last word drawn at random, so two answers of the
  // same base differ in one word (near duplicates).
  std::string text_variant(rng& r, uint64_t bases) const;

  // Size of the default combinatorial name space (for tests/docs).
  uint64_t space_size() const;

  // The i-th name of the vocabulary space (vocabulary > 0), distinct for
  // distinct i in [0, vocabulary).
  std::string vocabulary_name(uint64_t i) const;

 private:
  std::string combo(uint64_t index) const;
  std::string junk_name(rng& r, const std::string& base) const;
  int vocabulary_;
};

}  // namespace evo::sim::detail
