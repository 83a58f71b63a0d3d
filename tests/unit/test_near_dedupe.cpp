// near_dedupe: MinHash + LSH near-duplicate detection of free texts.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/writer/near_dedupe.hpp"

using evo::near_dedupe;

namespace {

// Texts of `words` words drawn from a list of 2000 made-up words: two
// texts from different seeds share (almost) no 5-word window.
std::vector<std::string> word_list() {
  std::vector<std::string> out;
  const char* syl[] = {"ka", "lo", "mi", "ren", "to", "sa", "vu", "de", "pi",
                       "no", "gra", "fel", "tis", "mo", "zu", "be", "qua",
                       "xi", "ha", "wen"};
  for (int i = 0; i < 2000; ++i)
    out.push_back(std::string(syl[i % 20]) + syl[(i / 20) % 20]
                  + syl[(i / 400) % 20]);
  return out;
}

std::vector<std::string> random_words(std::mt19937_64& rng, size_t n) {
  static const auto list = word_list();
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(list[rng() % list.size()]);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (auto& w : words)
    s += (s.empty() ? "" : " ") + w;
  return s;
}

// The exact Jaccard similarity of the two texts' shingle sets.
double jaccard(const std::string& a, const std::string& b, uint32_t k = 5) {
  std::vector<uint64_t> ha, hb;
  evo::shingle_hashes(a, k, ha);
  evo::shingle_hashes(b, k, hb);
  std::set<uint64_t> sa(ha.begin(), ha.end()), sb(hb.begin(), hb.end());
  size_t common = 0;
  for (auto h : sa)
    common += sb.count(h);
  return double(common) / double(sa.size() + sb.size() - common);
}

} // namespace

TEST_CASE("the band shape follows the threshold: 25 bands of 5, 9 must match at 0.8") {
  auto s = evo::lsh_shape_for(0.8);
  CHECK(s.rows == 5);
  CHECK(s.bands == 25);
  CHECK(s.min_matches == 9); // ceil(25 * 0.8^5 = 8.19)
  auto hi = evo::lsh_shape_for(1.0);
  CHECK(hi.min_matches == hi.bands); // identical signatures only
  auto lo = evo::lsh_shape_for(0.5);
  CHECK(lo.rows == 4); // 25 * 0.5^5 < 2 bands expected to match at 5 rows
  CHECK(lo.bands == 32);
  CHECK(lo.min_matches == 2);
}

TEST_CASE("an identical text is a near duplicate; the first is kept") {
  std::mt19937_64 rng{1};
  auto text = join(random_words(rng, 80));
  near_dedupe nd;
  CHECK(nd.keep(text));
  CHECK_FALSE(nd.keep(text));
  CHECK(nd.size() == 1); // the duplicate is not remembered
  CHECK(nd.estimate(text, text) == doctest::Approx(1.0));
}

TEST_CASE("case and punctuation do not make a text new") {
  near_dedupe nd;
  CHECK(nd.keep("Write a function that returns the longest palindromic "
                "substring of s."));
  CHECK_FALSE(nd.keep("write a function, that returns the LONGEST "
                      "palindromic substring of s"));
}

TEST_CASE("one word changed in a long text is a near duplicate") {
  std::mt19937_64 rng{2};
  near_dedupe nd;
  int caught = 0;
  for (int i = 0; i < 20; ++i) {
    auto words = random_words(rng, 150);
    auto base = join(words);
    words[rng() % words.size()] = "changed";
    auto variant = join(words);
    REQUIRE(jaccard(base, variant) > 0.9);
    REQUIRE(nd.keep(base));
    caught += nd.keep(variant) ? 0 : 1;
  }
  CHECK(caught == 20);
}

TEST_CASE("unrelated texts are all kept") {
  std::mt19937_64 rng{3};
  near_dedupe nd;
  for (int i = 0; i < 2000; ++i)
    CHECK(nd.keep(join(random_words(rng, 50 + rng() % 100))));
  CHECK(nd.size() == 2000);
}

TEST_CASE("below the threshold is kept, above it dropped (estimated Jaccard)") {
  std::mt19937_64 rng{4};
  near_dedupe nd{0.8};
  int high_caught = 0, low_caught = 0, high = 0, low = 0;
  for (int i = 0; i < 300; ++i) {
    auto words = random_words(rng, 100);
    auto base = join(words);
    REQUIRE(nd.keep(base));
    // 1 edit: J ~ 0.9; 9 edits: J ~ 0.4-0.55.
    for (int edits : {1, 9}) {
      auto w = words;
      for (int e = 0; e < edits; ++e)
        w[rng() % w.size()] = "edit" + std::to_string(e);
      auto v = join(w);
      double j = jaccard(base, v);
      if (j >= 0.88) {
        ++high;
        high_caught += nd.keep(v) ? 0 : 1;
      } else if (j <= 0.6) {
        ++low;
        low_caught += nd.keep(v) ? 0 : 1;
      }
    }
  }
  REQUIRE(high > 100);
  REQUIRE(low > 100);
  CHECK(high_caught >= high * 95 / 100);
  CHECK(low_caught <= low / 100);
}

TEST_CASE("texts shorter than a shingle are one shingle of all their words") {
  near_dedupe nd{0.8, 5};
  CHECK(nd.keep("two sum"));
  CHECK_FALSE(nd.keep("Two  sum!"));
  CHECK(nd.keep("two sums"));
  CHECK(nd.keep("sum two")); // word order matters
  // No word at all: kept unchecked, not remembered.
  CHECK(nd.keep("!!! ..."));
  CHECK(nd.keep("!!! ..."));
  CHECK(nd.size() == 3);
}

TEST_CASE("same texts, same verdicts and estimates in every instance") {
  std::mt19937_64 rng{5};
  std::vector<std::string> stream;
  for (int i = 0; i < 200; ++i) {
    auto words = random_words(rng, 60);
    stream.push_back(join(words));
    words[rng() % words.size()] = "x";
    words[rng() % words.size()] = "y";
    words[rng() % words.size()] = "z";
    stream.push_back(join(words));
  }
  near_dedupe a, b;
  std::vector<bool> va, vb;
  for (auto& t : stream)
    va.push_back(a.keep(t));
  for (auto& t : stream)
    vb.push_back(b.keep(t));
  CHECK(va == vb);
  CHECK(std::count(va.begin(), va.end(), false) > 0);
  CHECK(a.estimate(stream[0], stream[1]) == b.estimate(stream[0], stream[1]));
}

TEST_CASE("remembered records are compared with new ones") {
  std::mt19937_64 rng{6};
  auto text = join(random_words(rng, 70));
  near_dedupe nd;
  nd.remember(text);
  CHECK(nd.size() == 1);
  CHECK_FALSE(nd.keep(text));
}

TEST_CASE("memory per record is bounded and independent of text length") {
  std::mt19937_64 rng{7};
  near_dedupe shorter, longer;
  for (int i = 0; i < 20000; ++i) {
    shorter.remember(join(random_words(rng, 20)));
    longer.remember(join(random_words(rng, 400)));
  }
  CHECK(shorter.size() == 20000);
  CHECK(shorter.memory_bytes() == longer.memory_bytes());
  // 25 band keys of 8 bytes, the table 3/8 to 3/4 full.
  CHECK(shorter.memory_bytes() / shorter.size() <= 25 * 8 * 8 / 3);
  // Still finds every one of them after the table grew.
  std::mt19937_64 again{7};
  int found = 0;
  for (int i = 0; i < 200; ++i) {
    found += shorter.keep(join(random_words(again, 20))) ? 0 : 1;
    random_words(again, 400);
  }
  CHECK(found == 200);
}

TEST_CASE("a text is dropped exactly when its estimate reaches the threshold") {
  // Pairs on both sides of 0.8: the verdict of keep() and the estimate
  // (equal bands counted) must agree for every one, at the boundary too.
  std::mt19937_64 rng{8};
  int dropped = 0, kept = 0;
  for (int i = 0; i < 400; ++i) {
    auto words = random_words(rng, 100);
    auto base = join(words);
    for (int e = 0, edits = 1 + i % 4; e < edits; ++e)
      words[rng() % words.size()] = "edit" + std::to_string(e);
    auto variant = join(words);
    near_dedupe nd{0.8};
    REQUIRE(nd.keep(base));
    bool near = !nd.keep(variant);
    double est = nd.estimate(base, variant);
    CAPTURE(est);
    CHECK(near == (est >= 0.8));
    (near ? dropped : kept) += 1;
  }
  CHECK(dropped > 50);
  CHECK(kept > 50);
}
