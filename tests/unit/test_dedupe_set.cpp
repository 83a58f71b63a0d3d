// dedupe_set: open-addressing set of 64-bit keys.
#include <doctest/doctest.h>

#include <random>
#include <unordered_set>
#include <vector>

#include "actors/writer/dedupe_set.hpp"

using evo::dedupe_set;

TEST_CASE("dedupe_set insert then contains; duplicates rejected") {
  dedupe_set s;
  CHECK(s.size() == 0);
  CHECK_FALSE(s.contains(42));
  CHECK(s.insert(42));
  CHECK(s.contains(42));
  CHECK_FALSE(s.insert(42));
  CHECK(s.size() == 1);
  CHECK_FALSE(s.contains(43));
}

TEST_CASE("dedupe_set handles key 0 like any other key") {
  dedupe_set s;
  CHECK_FALSE(s.contains(0));
  CHECK(s.insert(0));
  CHECK(s.contains(0));
  CHECK_FALSE(s.insert(0));
  CHECK(s.size() == 1);
  CHECK(s.insert(1));
  CHECK(s.size() == 2);
  CHECK_FALSE(s.contains(2));
}

TEST_CASE("dedupe_set keeps keys across many resizes (200k random keys)") {
  dedupe_set s;
  const auto cap0 = s.capacity();
  std::mt19937_64 rng{20240601};
  std::vector<uint64_t> keys;
  std::unordered_set<uint64_t> ref;
  keys.reserve(200000);
  while (keys.size() < 200000) {
    auto k = rng();
    if (keys.size() % 1000 == 0)
      k = keys.size(); // some small, clustered keys too (incl. 0)
    if (ref.insert(k).second) {
      keys.push_back(k);
      REQUIRE(s.insert(k));
    } else {
      REQUIRE_FALSE(s.insert(k));
    }
  }
  CHECK(s.size() == 200000);
  CHECK(s.capacity() >= 8 * cap0); // really grew several times
  CHECK(s.capacity() * 7 >= s.size() * 10); // load factor kept <= 0.7
  size_t missing = 0;
  for (auto k : keys)
    if (!s.contains(k))
      ++missing;
  CHECK(missing == 0);
  // Reinserting everything changes nothing.
  size_t accepted = 0;
  for (auto k : keys)
    if (s.insert(k))
      ++accepted;
  CHECK(accepted == 0);
  CHECK(s.size() == 200000);
  // Keys never inserted are absent.
  std::mt19937_64 other{1};
  size_t false_hits = 0;
  for (int i = 0; i < 10000; ++i) {
    auto k = other();
    if (ref.count(k) == 0 && s.contains(k))
      ++false_hits;
  }
  CHECK(false_hits == 0);
}

TEST_CASE("dedupe_set with sequential keys (adversarial clustering)") {
  dedupe_set s;
  for (uint64_t k = 1; k <= 50000; ++k)
    REQUIRE(s.insert(k << 20)); // low bits all zero
  CHECK(s.size() == 50000);
  for (uint64_t k = 1; k <= 50000; ++k)
    REQUIRE(s.contains(k << 20));
  CHECK_FALSE(s.contains(50001ULL << 20));
}
