// filters.name_regex on RE2: the meaning std::regex_match gave it, linear
// time on hostile names, and the load-time refusal of what RE2 cannot express.
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "actors/writer/name_filter.hpp"
#include "actors/writer/name_regex.hpp"

using namespace evo;

TEST_CASE("the default and ECMAScript-style filters keep their meaning") {
  name_regex def{"^[a-z_][a-z0-9_]*$"};
  CHECK(def.full_match("merge_sorted"));
  CHECK(def.full_match("_x1"));
  CHECK_FALSE(def.full_match("Merge"));
  CHECK_FALSE(def.full_match("1abc"));
  CHECK_FALSE(def.full_match("a-b"));
  CHECK_FALSE(def.full_match(""));
  name_regex classes{"\\w+\\d{2}"};
  CHECK(classes.full_match("abc12"));
  CHECK_FALSE(classes.full_match("abc1"));
  CHECK_FALSE(classes.full_match("abc-12"));
  name_regex bounded{"^[a-z_][a-z0-9_]{2,63}$"};
  CHECK(bounded.full_match("abc"));
  CHECK_FALSE(bounded.full_match("ab"));
  CHECK_FALSE(bounded.full_match("a" + std::string(64, 'b')));
  name_regex alt{"get_\\w+|set_\\w+"};
  CHECK(alt.full_match("set_x"));
  CHECK_FALSE(alt.full_match("put_x"));
}

TEST_CASE("a pattern without anchors must still match the whole name") {
  name_regex r{"[a-z]+"};
  CHECK(r.full_match("abc"));
  CHECK_FALSE(r.full_match("abc_def"));
  CHECK_FALSE(r.full_match("_abc"));
}

TEST_CASE("matching is on bytes: a name that is not UTF-8 is matched, not refused") {
  name_regex any{".*"};
  CHECK(any.full_match("a\xff" "b"));
  name_regex one{"a.b"};
  CHECK(one.full_match("a\xff" "b"));
  CHECK_FALSE(one.full_match("a\xC3\xA9" "b")); // two bytes, as std::regex saw it
}

TEST_CASE("^(a+)+$ against 30k a's and a '!' ends in well under a second") {
  name_regex r{"^(a+)+$"};
  std::string evil(30000, 'a');
  evil += '!';
  auto t0 = std::chrono::steady_clock::now();
  bool m = r.full_match(evil);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0)
              .count();
  CHECK_FALSE(m);
  CHECK(ms < 500);
  CHECK(r.full_match(std::string(30000, 'a')));
}

TEST_CASE("backreferences and lookaround are refused with a reason") {
  CHECK(name_regex_problem("^(a)\\1$") == "backreference \\1 is not supported");
  CHECK(name_regex_problem("(?=a)a") == "lookahead (?=...) is not supported");
  CHECK(name_regex_problem("^(?!main$)[a-z]+$")
        == "negative lookahead (?!...) is not supported");
  CHECK(name_regex_problem("(?<=a)b") == "lookbehind (?<=...) is not supported");
  CHECK(name_regex_problem("(?<!a)b") == "lookbehind (?<!...) is not supported");
  CHECK_THROWS_AS(name_regex{"(a)\\1"}, std::invalid_argument);
}

TEST_CASE("escaped look-alikes are literals, not refused") {
  CHECK(name_regex_problem("a\\\\1") == "");  // backslash, then '1'
  CHECK(name_regex_problem("\\(?=") == "");   // '(' literal, optional, '='
  CHECK(name_regex_problem("[(?=]x") == "");  // a class of '(', '?', '='
  name_regex lit{"a\\\\1"};
  CHECK(lit.full_match("a\\1"));
}

TEST_CASE("repetition counts above 1000 and over-long patterns are refused") {
  CHECK(name_regex_problem("^a{1,12345678901}$")
        == "repetition count above 1000 in {1,12345678901}");
  CHECK(name_regex_problem("a{1001}") == "repetition count above 1000 in {1001}");
  CHECK(name_regex_problem("a{2,1000}") == "");
  CHECK(name_regex_problem(std::string(1000, 'a')) == "");
  CHECK(name_regex_problem(std::string(1001, 'a'))
        == "longer than 1000 characters (1001)");
}

TEST_CASE("a pattern RE2 cannot parse is refused with RE2's reason") {
  CHECK(name_regex_problem("([a-z") == "missing ]: [a-z");
  CHECK(name_regex_problem("(") == "missing ): (");
  CHECK(name_regex_problem("^[a-z_][a-z0-9_]*$") == "");
}

TEST_CASE("the writer's filter with ^(a+)+$ on a 512-a name and a '!' answers at once") {
  // The longest name the filter matches at all; backtracking engines take
  // exponential time here.
  name_filter f{"^(a+)+$", {}};
  std::string evil(max_name_length - 1, 'a');
  evil += '!';
  auto t0 = std::chrono::steady_clock::now();
  CHECK(f.check(evil) == name_verdict::regex);
  CHECK(f.check(std::string(max_name_length, 'a')) == name_verdict::kept);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0)
              .count();
  CHECK(ms < 500);
}
