// A job's most frequent names: the K-entry list against a brute-force count
// of a seeded random stream, its ties and bound, and what the sieve feeds it
// (name jobs only; under dedupe.canonical the kept spelling).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "actors/writer/choice_sieve.hpp"
#include "actors/writer/dedupe_set.hpp"
#include "actors/writer/name_filter.hpp"
#include "actors/writer/top_names.hpp"

using namespace evo;

namespace {

struct brute_entry {
  uint64_t count = 0;
  uint64_t reached = 0; // sighting number at which it reached count
};

// The exact answer: every name's count and when it reached it, ranked by
// count, then by who reached the count first.
std::vector<name_count> brute_top(const std::vector<std::string>& stream,
                                  size_t k) {
  std::map<std::string, brute_entry> all;
  uint64_t n = 0;
  for (auto& s : stream) {
    auto& e = all[s];
    ++e.count;
    e.reached = ++n;
  }
  std::vector<std::pair<std::string, brute_entry>> v(all.begin(), all.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) {
    return a.second.count != b.second.count ? a.second.count > b.second.count
                                            : a.second.reached < b.second.reached;
  });
  std::vector<name_count> out;
  for (size_t i = 0; i < v.size() && i < k; ++i)
    out.push_back({v[i].first, v[i].second.count});
  return out;
}

// Feeds `stream` as the sieve does: the dedupe set's exact counts.
std::vector<name_count> listed_top(const std::vector<std::string>& stream,
                                   size_t k) {
  dedupe_set counts;
  top_names top{k};
  for (auto& s : stream) {
    auto key = uid_key(s);
    top.sighting(key, uint64_t{counts.count_sighting(key)} + 1, s);
    CHECK(top.size() <= k);
  }
  return top.sorted();
}

void check_same(const std::vector<name_count>& got,
                const std::vector<name_count>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("rank " << i);
    CHECK(got[i].name == want[i].name);
    CHECK(got[i].count == want[i].count);
  }
}

} // namespace

TEST_CASE("top names: exact against a brute-force count of a random stream") {
  for (uint32_t seed : {1u, 2u, 3u, 42u}) {
    INFO("seed " << seed);
    std::mt19937 rng{seed};
    // a skewed pool: a few frequent names and a long tail that keeps
    // pushing new names at the list's minimum
    std::geometric_distribution<int> skew{0.02};
    std::vector<std::string> stream;
    for (int i = 0; i < 20000; ++i)
      stream.push_back("name_" + std::to_string(skew(rng)));
    check_same(listed_top(stream, 20), brute_top(stream, 20));
    check_same(listed_top(stream, 5), brute_top(stream, 5));
  }
  // a uniform pool: many near-equal counts, ties everywhere
  std::mt19937 rng{7};
  std::uniform_int_distribution<int> pick{0, 299};
  std::vector<std::string> stream;
  for (int i = 0; i < 6000; ++i)
    stream.push_back("u" + std::to_string(pick(rng)));
  check_same(listed_top(stream, 20), brute_top(stream, 20));
}

TEST_CASE("top names: ties go to whoever reached the count first") {
  // a, b, c reach 2 in the order c, a, b; d reaches 2 last, then 3
  std::vector<std::string> s{"a", "b", "c", "c", "a", "b", "d", "d"};
  auto got = listed_top(s, 3);
  check_same(got, {{"c", 2}, {"a", 2}, {"b", 2}});
  s.push_back("d");
  got = listed_top(s, 3);
  // d overtakes on its third sighting and b, last to reach 2, leaves
  check_same(got, {{"d", 3}, {"c", 2}, {"a", 2}});
  // a name equal to the list's minimum but later does not get in
  check_same(listed_top({"x", "y", "z"}, 2), {{"x", 1}, {"y", 1}});
}

TEST_CASE("top names: K bounds the list; fewer names list them all") {
  std::vector<std::string> s;
  for (int i = 0; i < 100; ++i)
    s.push_back("n" + std::to_string(i));
  CHECK(listed_top(s, 20).size() == 20);
  CHECK(listed_top({"a", "b", "a"}, 20).size() == 2);
  CHECK(listed_top(s, 0).empty());
  top_names t;
  CHECK(t.k() == 20);
  CHECK(t.sorted().empty());
}

TEST_CASE("the sieve lists name jobs' names with this run's counts") {
  auto sieve = choice_sieve::names(name_filter{"^[a-z_]+$", {}});
  sieve.preload(uid_key("old_name"), "old_name"); // from an earlier run
  std::vector<kept_choice> kept;
  sieve.sift({"two_sum(", "old_name(", "two_sum", "BAD(", " two_sum\n"}, kept);
  check_same(sieve.top().sorted(), {{"two_sum", 3}, {"old_name", 1}});
  // free texts are not names: no list
  auto texts = choice_sieve::texts({});
  texts.sift({"a text", "a text"}, kept);
  CHECK(texts.top().size() == 0);
}

TEST_CASE("dedupe.canonical: one entry per canonical name, the kept spelling") {
  auto sieve = choice_sieve::names(name_filter{"^[A-Za-z_]+$", {}}, nullptr,
                                   true);
  std::vector<kept_choice> kept;
  // is_palindrome is kept first; with K = 20 it is listed at once
  sieve.sift({"is_palindrome", "isPalindrome", "IsPalindrome", "two_sum"},
             kept);
  check_same(sieve.top().sorted(), {{"is_palindrome", 3}, {"two_sum", 1}});

  // listed through another spelling: shown so until the kept one comes by
  top_names t{1};
  t.sighting(1, 1, "a_b");
  t.sighting(2, 1, "x_y");
  t.sighting(2, 2, "xY", false); // x_y kept, but never listed until now
  check_same(t.sorted(), {{"xY", 2}});
  t.sighting(2, 3, "XY", false);
  check_same(t.sorted(), {{"xY", 3}});
  t.sighting(2, 4, "x_y");
  check_same(t.sorted(), {{"x_y", 4}});
  t.sighting(2, 5, "xY", false);
  check_same(t.sorted(), {{"x_y", 5}});
}
