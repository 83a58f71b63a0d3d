// The keep-or-drop step without files: names and free texts through
// extraction, filters and dedupe; the compact weak list; the record lines.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "actors/writer/choice_sieve.hpp"
#include "actors/writer/record_format.hpp"

using namespace evo;
using nlohmann::json;

TEST_CASE("names: extracted, filtered, deduped within and across requests") {
  auto sieve = choice_sieve::names(
    name_filter{"^[a-z_][a-z0-9_]*$", {"main"}});
  std::vector<kept_choice> kept;
  std::vector<std::string> a{"foo(", "foo", " bar\n", "", "Main", "main()",
                             "9lives"};
  auto st = sieve.sift(a, kept);
  CHECK(st.choices == 7);
  CHECK(st.kept == 2);
  CHECK(st.duplicates == 1);
  CHECK(st.filtered_empty == 1);
  CHECK(st.filtered_regex == 2); // Main (regex first), 9lives
  CHECK(st.filtered_weak == 1);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].choice_index == 0);
  CHECK(kept[0].text == "foo");
  CHECK(kept[0].key == uid_key("foo"));
  CHECK(kept[1].choice_index == 2);
  CHECK(kept[1].text == "bar");
  CHECK_FALSE(sieve.keeps_texts());
  kept.clear();
  // kept_choice views the choices: they must outlive it.
  std::vector<std::string> b{"bar", "baz"};
  auto st2 = sieve.sift(b, kept);
  CHECK(st2.duplicates == 1);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].text == "baz");
}

TEST_CASE("texts: the whole stripped completion, min/max chars, no regex or weak list") {
  auto sieve = choice_sieve::texts({10, 60});
  CHECK(sieve.keeps_texts());
  std::vector<kept_choice> kept;
  std::vector<std::string> choices{
    "  Given a list of integers, return the sum.\n",  // 41 chars: kept
    "short",                                          // < 10
    "   \n\t ",                                       // empty
    std::string(61, 'x'),                             // > 60
    "Given a list of integers, return the sum.",      // same stripped: dup
    "main main main",                                 // no weak list here
    "caf\xC3\xA9 caf\xC3\xA9",                        // 9 chars (11 bytes) < 10
  };
  auto st = sieve.sift(choices, kept);
  CHECK(st.choices == 7);
  CHECK(st.kept == 2);
  CHECK(st.duplicates == 1);
  CHECK(st.filtered_empty == 1);
  CHECK(st.filtered_regex == 3); // out of [min_chars, max_chars]
  CHECK(st.filtered_weak == 0);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].text == "Given a list of integers, return the sum.");
  CHECK(kept[0].key == uid_key("Given a list of integers, return the sum."));
  CHECK(kept[1].text == "main main main");
}

TEST_CASE("texts: bounds count characters, not bytes; 0 means unbounded") {
  auto exact = choice_sieve::texts({3, 3});
  std::vector<kept_choice> kept;
  auto st = exact.sift({"\xC3\xA9\xC3\xA9\xC3\xA9", "abcd", "ab"}, kept);
  CHECK(st.kept == 1);
  CHECK(st.filtered_regex == 2);
  auto open = choice_sieve::texts({0, 0});
  kept.clear();
  CHECK(open.sift({std::string(100000, 'y'), "z"}, kept).kept == 2);
  CHECK(utf8_length("caf\xC3\xA9") == 4);
  CHECK(strip_text(" \t\r\n a b \n") == "a b");
}

TEST_CASE("for_job picks the sieve the job asks for") {
  job_output out;
  out.name_regex = "^[a-z]+$";
  out.weaklist = {"solve"};
  std::vector<kept_choice> kept;
  auto names = choice_sieve::for_job(out);
  CHECK(names.sift({"solve", "two words"}, kept).kept == 1);
  out.extract_text = true;
  out.min_chars = 5;
  out.max_chars = 0;
  auto texts = choice_sieve::for_job(out);
  kept.clear();
  std::vector<std::string> choices{"solve", "two words", "abc"}; // kept views them
  CHECK(texts.sift(choices, kept).kept == 2);
  REQUIRE(kept.size() == 2);
  CHECK(kept[1].text == "two words");
}

TEST_CASE("a free-text job with near_threshold drops near duplicates apart") {
  job_output out;
  out.extract_text = true;
  out.near_threshold = 0.8;
  out.near_shingle = 3;
  auto sieve = choice_sieve::for_job(out);
  REQUIRE(sieve.near() != nullptr);
  const std::string a = "Given an array of integers nums and an integer target, "
                        "return the indices of the two numbers that add up to target.";
  std::vector<std::string> choices{a, a, a + " Indices", "Reverse a linked list."};
  std::vector<kept_choice> kept;
  auto st = sieve.sift(choices, kept);
  CHECK(st.kept == 2);
  CHECK(st.duplicates == 1);      // the same text: exact
  CHECK(st.near_duplicates == 1); // one word more: near
  REQUIRE(kept.size() == 2);
  CHECK(kept[1].choice_index == 3);
  // A near duplicate's key is not taken: the exact set holds the kept only.
  CHECK(sieve.seen().size() == 2);
  out.extract_text = false; // names: never near-checked
  CHECK(choice_sieve::for_job(out).near() == nullptr);
  out.extract_text = true;
  out.near_threshold = 0;
  CHECK(choice_sieve::for_job(out).near() == nullptr);
}

TEST_CASE("a shared dedupe set dedupes across sieves") {
  auto seen = std::make_shared<dedupe_set>();
  auto a = choice_sieve::texts({}, seen);
  auto b = choice_sieve::texts({}, seen);
  std::vector<kept_choice> kept;
  CHECK(a.sift({"same text"}, kept).kept == 1);
  CHECK(b.sift({"  same text\n"}, kept).duplicates == 1);
}

TEST_CASE("weak list: case-insensitive, exact, duplicates and odd bytes") {
  weak_list w{{"main", "Solve", "HELPER", "main", std::string("nu\0l", 4), ""}};
  CHECK(w.size() == 5); // "main" twice counts once
  CHECK(w.contains("main"));
  CHECK(w.contains("MAIN"));
  CHECK(w.contains("Main"));
  CHECK(w.contains("solve"));
  CHECK(w.contains("helper"));
  CHECK(w.contains(std::string_view("NU\0L", 4)));
  CHECK_FALSE(w.contains("nu"));
  CHECK_FALSE(w.contains("mainly"));
  CHECK_FALSE(w.contains("mai"));
  CHECK_FALSE(w.contains("solver"));
  CHECK(w.contains(""));
  CHECK_FALSE(weak_list{}.contains(""));
  CHECK_FALSE(w.contains(std::string(2000, 'a'))); // longer than any name
}

TEST_CASE("weak list of 200k names: under 40 bytes a name, lookups right") {
  std::vector<std::string> names;
  names.reserve(200000);
  char buf[32];
  for (int i = 0; i < 200000; ++i) {
    std::snprintf(buf, sizeof(buf), "Weak_Name_%d", i);
    names.emplace_back(buf);
  }
  weak_list w{names};
  REQUIRE(w.size() == 200000);
  // ~15 characters + 4 length bytes + a 4-byte slot at load 0.38..0.7
  // (a std::unordered_set<std::string> held ~100).
  CHECK(w.bytes() < 200000 * 40);
  CHECK(w.contains("weak_name_0"));
  CHECK(w.contains("WEAK_NAME_199999"));
  CHECK(w.contains("weak_name_123456"));
  CHECK_FALSE(w.contains("weak_name_200000"));
  CHECK_FALSE(w.contains("weak_name_"));
}

TEST_CASE("name record: this project's fields, uid first") {
  std::string out;
  record_origin o{"fim", "sim-coder", 7, "2026-11-26T12:00:00.123Z"};
  append_name_record(out, o, 2, uid_hex(uid_key("foo")), "foo", "foo(a):\n");
  REQUIRE(out.back() == '\n');
  CHECK(out.rfind(record_uid_prefix, 0) == 0);
  auto j = json::parse(out);
  CHECK(j.size() == 8);
  CHECK(j.at("uid") == uid_hex(uid_key("foo")));
  CHECK(j.at("func_name") == "foo");
  CHECK(j.at("mode") == "fim");
  CHECK(j.at("raw_text") == "foo(a):\n");
  CHECK(j.at("model") == "sim-coder");
  CHECK(j.at("request_index") == 7);
  CHECK(j.at("choice_index") == 2);
  CHECK(j.at("timestamp") == "2026-11-26T12:00:00.123Z");
}

TEST_CASE("text record: problem_description and source next to this project's fields") {
  for (auto [mode, source] : {std::pair{"fim", "FIM"}, std::pair{"l2r", "L2R"}}) {
    std::string out;
    record_origin o{mode, "m", 3, "2026-11-26T12:00:00.000Z"};
    std::string raw = "  Write a function.\n---";
    append_text_record(out, o, 1, uid_hex(uid_key("Write a function.\n---")),
                       "Write a function.\n---", raw);
    CHECK(out.rfind(record_uid_prefix, 0) == 0);
    CHECK(out.find('\n') == out.size() - 1); // one line
    auto j = json::parse(out);
    CHECK(j.size() == 9);
    CHECK(j.at("uid") == uid_hex(uid_key("Write a function.\n---")));
    CHECK(j.at("problem_description") == "Write a function.\n---");
    CHECK(j.at("source") == source);
    CHECK(j.at("mode") == mode);
    CHECK(j.at("raw_text") == raw);
    CHECK(j.at("model") == "m");
    CHECK(j.at("request_index") == 3);
    CHECK(j.at("choice_index") == 1);
    CHECK(j.contains("timestamp"));
    CHECK_FALSE(j.contains("func_name"));
  }
}

TEST_CASE("failure line: valid JSON whatever the server sent") {
  failure_record rec;
  rec.index = 9;
  rec.attempts = 3;
  rec.http_status = 500;
  rec.failure = failure_kind::http_status;
  rec.reason = "HTTP 500: \x1f\x8b\x08\xff\x1b[2J";
  std::string out;
  append_failure_line(out, "l2r", rec, "2026-11-26T12:00:00.000Z");
  CHECK(out.find('\x1b') == std::string::npos);
  auto j = json::parse(out); // throws on invalid UTF-8
  CHECK(j.at("request_index") == 9);
  CHECK(j.at("failure") == "http_status");
  CHECK(j.at("mode") == "l2r");
  CHECK(j.at("reason").get<std::string>().rfind("HTTP 500: ", 0) == 0);
}
