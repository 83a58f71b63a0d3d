// Names that are one in meaning (dedupe.canonical), names kept out
// (filters.exclude_names), and how often each valid choice was seen: the
// canonical key, the sieve's counts and its frequency table, the dedupe
// set's counts and spellings.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/writer/choice_sieve.hpp"
#include "actors/writer/dedupe_set.hpp"
#include "actors/writer/name_filter.hpp"

using namespace evo;

namespace {

const char* const lower_regex = "^[A-Za-z_][A-Za-z0-9_]*$";

} // namespace

TEST_CASE("canonical key: the words, lower case, joined by _") {
  CHECK(canonical_name("isPalindrome") == "is_palindrome");
  CHECK(canonical_name("is_palindrome") == "is_palindrome");
  CHECK(canonical_name("IsPalindrome") == "is_palindrome");
  CHECK(canonical_name("is_palindrome_") == "is_palindrome");
  CHECK(canonical_name("__is__palindrome") == "is_palindrome");
  CHECK(canonical_name("IS_PALINDROME") == "is_palindrome");
  CHECK(canonical_name("parseHTTPHeader") == "parse_http_header");
  CHECK(canonical_name("HTTPServer") == "http_server");
  CHECK(canonical_name("getX") == "get_x");
  CHECK(canonical_name("base64Encode") == "base64_encode");
  CHECK(canonical_name("utf8ToUtf16") == "utf8_to_utf16");
  CHECK(canonical_name("sum2d") == "sum2d");
  CHECK(canonical_name("two_sum") != canonical_name("twosum"));
  CHECK(canonical_name("_") == "_");
  CHECK(canonical_name("") == "");
}

TEST_CASE("canonical dedupe: the first spelling is kept, others counted apart") {
  auto sieve = choice_sieve::names(name_filter{lower_regex, {}}, nullptr, true);
  std::vector<kept_choice> kept;
  std::vector<std::string> a{"isPalindrome", "is_palindrome", "IsPalindrome",
                             "is_palindrome_", "isPalindrome", "two_sum"};
  auto st = sieve.sift(a, kept);
  CHECK(st.kept == 2);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].text == "isPalindrome");
  CHECK(kept[0].key == uid_key("isPalindrome")); // the uid is the name's own
  CHECK(kept[1].text == "two_sum");
  CHECK(st.canonical_duplicates == 3); // three other spellings
  CHECK(st.duplicates == 1);           // isPalindrome again
  CHECK(st.valid() == 6);
  // the frequency table counts the canonical name: 5 sightings, and two_sum 1
  CHECK(sieve.frequencies().f(1) == 1);
  CHECK(sieve.frequencies().f(5) == 1);
}

TEST_CASE("without dedupe.canonical the spellings are distinct names") {
  auto sieve = choice_sieve::names(name_filter{lower_regex, {}});
  std::vector<kept_choice> kept;
  auto st = sieve.sift({"isPalindrome", "is_palindrome", "IsPalindrome"}, kept);
  CHECK(st.kept == 3);
  CHECK(st.canonical_duplicates == 0);
}

TEST_CASE("a folder's earlier records dedupe canonically after a restart") {
  auto sieve = choice_sieve::names(name_filter{lower_regex, {}}, nullptr, true);
  sieve.preload(uid_key("is_palindrome"), "is_palindrome");
  std::vector<kept_choice> kept;
  auto st = sieve.sift({"isPalindrome", "is_palindrome"}, kept);
  CHECK(st.kept == 0);
  CHECK(st.canonical_duplicates == 1);
  CHECK(st.duplicates == 1);
}

TEST_CASE("exclude_names drops the names, any case or spelling") {
  name_filter f{lower_regex, {}, {"has_close_elements", "# not a comment here"}};
  CHECK(f.check("has_close_elements") == name_verdict::excluded);
  CHECK(f.check("HAS_CLOSE_ELEMENTS") == name_verdict::excluded);
  CHECK(f.check("hasCloseElements") == name_verdict::excluded);
  CHECK(f.check("has_close_element") == name_verdict::kept);
  CHECK(f.check("two_sum") == name_verdict::kept);
  auto sieve = choice_sieve::names(
    name_filter{lower_regex, {}, {"has_close_elements", "separate_paren_groups"}});
  std::vector<kept_choice> kept;
  auto st = sieve.sift({"has_close_elements(", "separate_paren_groups",
                        "two_sum", "Bad-Name"},
                       kept);
  CHECK(st.filtered_excluded == 2);
  CHECK(st.filtered_regex == 1);
  CHECK(st.kept == 1);
  CHECK(st.valid() == 1); // excluded names are not valid choices
  CHECK(sieve.frequencies().distinct() == 1);
}

TEST_CASE("the sieve counts every valid choice: f1, f2, ... of this run") {
  auto sieve = choice_sieve::names(name_filter{"^[a-z_]+$", {}});
  std::vector<kept_choice> kept;
  sieve.sift({"a", "b", "b", "c", "c", "c", "BAD"}, kept);
  sieve.sift({"c", "d"}, kept);
  auto& t = sieve.frequencies();
  CHECK(t.f(1) == 2); // a, d
  CHECK(t.f(2) == 1); // b
  CHECK(t.f(3) == 0);
  CHECK(t.f(4) == 1); // c
  CHECK(t.distinct() == 4);
}

TEST_CASE("a name the folder held before is counted from this run's first sighting") {
  auto sieve = choice_sieve::names(name_filter{"^[a-z_]+$", {}});
  sieve.preload(uid_key("old"));
  std::vector<kept_choice> kept;
  auto st = sieve.sift({"old", "old"}, kept);
  CHECK(st.duplicates == 2);
  CHECK(sieve.frequencies().f(2) == 1);
  CHECK(sieve.frequencies().f(1) == 0);
}

TEST_CASE("with a shared (global) set each job counts its own sightings") {
  auto shared = std::make_shared<dedupe_set>();
  auto a = choice_sieve::names(name_filter{"^[a-z_]+$", {}}, shared);
  auto b = choice_sieve::names(name_filter{"^[a-z_]+$", {}}, shared);
  std::vector<kept_choice> kept;
  a.sift({"x", "x", "x"}, kept);
  auto st = b.sift({"x"}, kept);
  CHECK(st.duplicates == 1);
  CHECK(a.frequencies().f(3) == 1);
  CHECK(b.frequencies().f(1) == 1); // not 4: b saw x once
  CHECK(b.frequencies().f(4) == 0);
}

TEST_CASE("dedupe_set counts survive growth, saturate, and keep spellings") {
  dedupe_set s;
  s.keep_spellings();
  std::mt19937_64 rng{7};
  std::unordered_map<uint64_t, uint32_t> ref;
  std::vector<uint64_t> keys;
  for (int i = 0; i < 50000; ++i) {
    auto k = rng() | 1;
    keys.push_back(k);
    s.insert(k, static_cast<uint32_t>(k >> 7));
  }
  for (int i = 0; i < 200000; ++i) {
    auto k = keys[rng() % keys.size()];
    CHECK(s.count_sighting(k) == ref[k]);
    ++ref[k];
  }
  for (auto k : keys) {
    CHECK(s.count(k) == ref[k]);
    CHECK(s.spelling(k) == static_cast<uint32_t>(k >> 7));
  }
  CHECK(s.count(12345678) == 0);
  // key 0 counts too
  CHECK(s.count_sighting(0) == 0);
  CHECK(s.count_sighting(0) == 1);
  CHECK(s.count(0) == 2);
  CHECK(s.size() == keys.size() + 1);
  // 12 bytes a slot (16 with spellings), at most two slots a key
  CHECK(s.bytes() <= s.capacity() * 16);
}
