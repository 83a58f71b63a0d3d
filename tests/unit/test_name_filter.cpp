// Name extraction, uid (known-answer SHA-256), and the regex/weaklist filter.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/writer/dedupe_set.hpp"
#include "actors/writer/name_filter.hpp"

using namespace evo;

TEST_CASE("extract_name stops at the parenthesis") {
  CHECK(extract_name("merge_sorted(a, b)") == "merge_sorted");
  CHECK(extract_name("merge_sorted():\n    pass") == "merge_sorted");
}

TEST_CASE("extract_name skips leading whitespace and stops at whitespace") {
  CHECK(extract_name("  foo_bar\n") == "foo_bar");
  CHECK(extract_name("two words") == "two");
  CHECK(extract_name("\n\nx") == "x");
  CHECK(extract_name("\tfoo\tbar") == "foo");
  CHECK(extract_name("\t \r\n  baz_qux\r\n") == "baz_qux");
  CHECK(extract_name("plain") == "plain");
}

TEST_CASE("extract_name of empty or blank text is empty") {
  CHECK(extract_name("") == "");
  CHECK(extract_name("   \n\t") == "");
  CHECK(extract_name("(a, b)") == "");
  CHECK(extract_name("  (x)") == "");
}

TEST_CASE("uid of merge_sorted_lists is the first 16 hex digits of its SHA-256") {
  // echo -n merge_sorted_lists | sha256sum
  // 2cd79a61de446abfeb35af8a4f068bd9eb43b0cbeb832d875a15540c7fb5a85d
  CHECK(uid_hex(uid_key("merge_sorted_lists")) == "2cd79a61de446abf");
  CHECK(uid_key("merge_sorted_lists") == 0x2cd79a61de446abfULL);
  // echo -n foo_bar | sha256sum -> 4928cae8b37b3d11...
  CHECK(uid_hex(uid_key("foo_bar")) == "4928cae8b37b3d11");
  // SHA-256 of the empty string: e3b0c44298fc1c14...
  CHECK(uid_hex(uid_key("")) == "e3b0c44298fc1c14");
}

TEST_CASE("uid_hex is 16 lowercase hex digits with leading zeros") {
  CHECK(uid_hex(0) == "0000000000000000");
  CHECK(uid_hex(0xABCULL) == "0000000000000abc");
  CHECK(uid_hex(~0ULL) == "ffffffffffffffff");
}

TEST_CASE("parse_uid round-trips and rejects bad hex or length") {
  for (uint64_t k : {0ULL, 1ULL, 0x2cd79a61de446abfULL, ~0ULL,
                     0x0123456789abcdefULL}) {
    uint64_t back = 12345;
    REQUIRE(parse_uid(uid_hex(k), back));
    CHECK(back == k);
  }
  uint64_t key = 777;
  CHECK(parse_uid("2CD79A61DE446ABF", key)); // upper case accepted
  CHECK(key == 0x2cd79a61de446abfULL);
  key = 777;
  CHECK_FALSE(parse_uid("", key));
  CHECK_FALSE(parse_uid("2cd79a61de446ab", key));   // 15
  CHECK_FALSE(parse_uid("2cd79a61de446abf0", key)); // 17
  CHECK_FALSE(parse_uid("2cd79a61de446abg", key));  // g
  CHECK_FALSE(parse_uid("2cd79a61 e446abf", key));  // space
  CHECK_FALSE(parse_uid("-cd79a61de446abf", key));
  CHECK(key == 777); // untouched on failure
}

TEST_CASE("name_filter refuses empty, regex mismatches and weak names; keeps others") {
  name_filter f{"^[a-z_][a-z0-9_]*$", {"main", "Foo", "helper"}};
  CHECK(f.check("") == name_verdict::empty);
  CHECK(f.check("Merge") == name_verdict::regex);
  CHECK(f.check("1abc") == name_verdict::regex);
  CHECK(f.check("a-b") == name_verdict::regex);
  CHECK(f.check("main") == name_verdict::weak);
  CHECK(f.check("foo") == name_verdict::weak);    // weaklist "Foo", case-insensitive
  CHECK(f.check("helper") == name_verdict::weak);
  CHECK(f.check("merge_sorted") == name_verdict::kept);
  CHECK(f.check("main2") == name_verdict::kept);  // whole-name match only
  CHECK(f.check("_x") == name_verdict::kept);
}

TEST_CASE("name_filter weaklist is case-insensitive: Main refused when weaklist has main") {
  name_filter f{".*", {"main"}};
  CHECK(f.check("Main") == name_verdict::weak);
  CHECK(f.check("MAIN") == name_verdict::weak);
  CHECK(f.check("main") == name_verdict::weak);
  CHECK(f.check("mainly") == name_verdict::kept);
}

TEST_CASE("name_filter regex must match the whole name") {
  name_filter f{"[a-z]+", {}};
  CHECK(f.check("abc") == name_verdict::kept);
  CHECK(f.check("abc_def") == name_verdict::regex);
}

TEST_CASE("name_filter with a bad regex throws invalid_argument") {
  CHECK_THROWS_AS(name_filter("([a-z", {}), std::invalid_argument);
}

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

// Regression (fixed by max_name_length): name_filter::check ran std::regex_match (libstdc++'s recursive DFS
// executor) on the whole extracted name, whose length is bounded only by what
// the server sent. A choice of ~50k non-space characters overflows the stack
// and kills the process (SIGSEGV) — any server can crash the writer. Run in a
// forked child so the crash is reported instead of killing this suite.
TEST_CASE("name_filter check of a 60k-character name does not crash the process"
         ) {
  name_filter f{"^[a-z_][a-z0-9_]*$", {}};
  std::string huge(60000, 'a');
  REQUIRE(extract_name(huge).size() == huge.size()); // no delimiter: all of it
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Plain default crash behaviour in the child (no doctest crash report).
    ::signal(SIGSEGV, SIG_DFL);
    ::signal(SIGBUS, SIG_DFL);
    auto v = f.check(extract_name(huge));
    ::_exit(v == name_verdict::kept || v == name_verdict::regex ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CAPTURE(status);
  CHECK_FALSE(WIFSIGNALED(status));
  CHECK(WIFEXITED(status));
  if (WIFEXITED(status))
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the README's example record has the uid of its func_name") {
  std::ifstream f(std::string{EVO_SOURCE_DIR} + "/README.md");
  REQUIRE(f);
  std::ostringstream text;
  text << f.rdbuf();
  std::smatch m;
  auto readme = text.str();
  REQUIRE(std::regex_search(readme, m, std::regex{R"(\n(\{"uid":[^\n]*\}))"}));
  auto rec = nlohmann::json::parse(m[1].str());
  auto name = rec.at("func_name").get<std::string>();
  CHECK(name == extract_name(rec.at("raw_text").get<std::string>()));
  CHECK(rec.at("uid") == uid_hex(uid_key(name)));
}

TEST_CASE("a name longer than max_name_length is refused, one at the limit kept") {
  name_filter f{"^[a-z_][a-z0-9_]*$", {}};
  CHECK(f.check(std::string(max_name_length, 'a')) == name_verdict::kept);
  CHECK(f.check(std::string(max_name_length + 1, 'a')) == name_verdict::regex);
}
