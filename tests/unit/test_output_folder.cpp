// output_folder in a fresh mkdtemp folder: records, dedupe across batches and
// reopen, torn-tail repair, hash-table reconciliation, failures.jsonl.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "actors/writer/output_folder.hpp"
#include "tests/unit/writer_test_util.hpp"

using namespace evo;
using namespace evo::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* regex_default = "^[a-z_][a-z0-9_]*$";

// Every line must be a whole JSON object; returns them.
std::vector<json> json_lines(const std::string& path) {
  auto data = slurp(path);
  if (!data.empty())
    CHECK(data.back() == '\n');
  std::vector<json> out;
  for (auto& l : lines_of(data)) {
    auto j = json::parse(l, nullptr, false);
    CAPTURE(l);
    REQUIRE_FALSE(j.is_discarded());
    REQUIRE(j.is_object());
    out.push_back(std::move(j));
  }
  return out;
}

name_filter default_filter(std::vector<std::string> weak = {}) {
  return name_filter{regex_default, weak};
}

} // namespace

TEST_CASE("output_folder writes names.jsonl and hash_table.txt with full records") {
  temp_dir tmp;
  auto dir = tmp.path + "/out/fim"; // created, parents included
  uint64_t kept_total = 0;
  {
    output_folder out{dir, "fim", default_filter()};
    CHECK(out.preexisting() == 0);
    auto st = out.write(7, "sim-coder",
                        {"merge_sorted(a, b)", "  binary_search\n", "quick_sort x"});
    CHECK(st.choices == 3);
    CHECK(st.kept == 3);
    CHECK(st.duplicates == 0);
    kept_total = st.kept;
    CHECK(out.size() == 3);
  }
  REQUIRE(fs::exists(dir + "/names.jsonl"));
  REQUIRE(fs::exists(dir + "/hash_table.txt"));
  auto recs = json_lines(dir + "/names.jsonl");
  REQUIRE(recs.size() == kept_total);
  std::vector<std::string> names;
  for (size_t i = 0; i < recs.size(); ++i) {
    auto& r = recs[i];
    for (auto* field : {"uid", "func_name", "mode", "raw_text", "model",
                        "request_index", "choice_index", "timestamp"}) {
      CAPTURE(field);
      CHECK(r.contains(field));
    }
    auto name = r.at("func_name").get<std::string>();
    names.push_back(name);
    CHECK(r.at("uid") == uid_hex(uid_key(name)));
    CHECK(r.at("mode") == "fim");
    CHECK(r.at("model") == "sim-coder");
    CHECK(r.at("request_index") == 7);
    CHECK(r.at("choice_index") == i);
    auto ts = r.at("timestamp").get<std::string>();
    CHECK(ts.size() == 24);
    CHECK(ts.back() == 'Z');
  }
  CHECK(names == std::vector<std::string>{"merge_sorted", "binary_search",
                                          "quick_sort"});
  CHECK(recs[0].at("raw_text") == "merge_sorted(a, b)");
  CHECK(recs[1].at("raw_text") == "  binary_search\n");
  auto hashes = lines_of(slurp(dir + "/hash_table.txt"));
  REQUIRE(hashes.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(hashes[i] == uid_hex(uid_key(names[i])));
}

TEST_CASE("output_folder drops duplicates within and across batches and counts filters") {
  temp_dir tmp;
  output_folder out{tmp.path, "l2r", default_filter({"main"})};
  auto st = out.write(0, "m", {"foo(", "foo", " foo\n", "bar", "", "  ",
                               "Bad_Name", "Main", "main()", "9lives"});
  CHECK(st.choices == 10);
  CHECK(st.kept == 2); // foo, bar
  CHECK(st.duplicates == 2);
  CHECK(st.filtered_empty == 2);
  CHECK(st.filtered_regex == 3); // Bad_Name, Main (regex first), 9lives
  CHECK(st.filtered_weak == 1);  // main
  auto st2 = out.write(1, "m", {"bar", "baz", "foo"});
  CHECK(st2.kept == 1);
  CHECK(st2.duplicates == 2);
  CHECK(out.size() == 3);
  auto recs = json_lines(tmp.path + "/names.jsonl");
  REQUIRE(recs.size() == 3);
  CHECK(recs[2].at("func_name") == "baz");
  CHECK(recs[2].at("request_index") == 1);
  CHECK(recs[2].at("choice_index") == 1);
  CHECK(lines_of(slurp(tmp.path + "/hash_table.txt")).size() == 3);
}

TEST_CASE("output_folder weaklist case-insensitive with a permissive regex") {
  temp_dir tmp;
  output_folder out{tmp.path, "fim", name_filter{"^[A-Za-z_][A-Za-z0-9_]*$", {"main"}}};
  auto st = out.write(0, "m", {"Main", "MAIN", "Solve"});
  CHECK(st.filtered_weak == 2);
  CHECK(st.kept == 1);
}

TEST_CASE("output_folder reopened knows its names: preexisting and no rewrites") {
  temp_dir tmp;
  std::vector<std::string> batch{"alpha", "beta", "gamma", "delta"};
  {
    output_folder out{tmp.path, "fim", default_filter()};
    REQUIRE(out.write(0, "m", batch).kept == 4);
  }
  auto names_before = slurp(tmp.path + "/names.jsonl");
  auto hashes_before = slurp(tmp.path + "/hash_table.txt");
  {
    output_folder out{tmp.path, "fim", default_filter()};
    CHECK(out.preexisting() == 4);
    CHECK(out.size() == 4);
    auto st = out.write(1, "m", batch);
    CHECK(st.kept == 0);
    CHECK(st.duplicates == 4);
    auto st2 = out.write(2, "m", {"epsilon"});
    CHECK(st2.kept == 1);
  }
  auto recs = json_lines(tmp.path + "/names.jsonl");
  CHECK(recs.size() == 5);
  CHECK(slurp(tmp.path + "/names.jsonl").rfind(names_before, 0) == 0);
  CHECK(slurp(tmp.path + "/hash_table.txt").rfind(hashes_before, 0) == 0);
  output_folder again{tmp.path, "fim", default_filter()};
  CHECK(again.preexisting() == 5);
}

TEST_CASE("output_folder cuts a torn last line of names.jsonl on reopen") {
  temp_dir tmp;
  {
    output_folder out{tmp.path, "fim", default_filter()};
    REQUIRE(out.write(0, "m", {"one", "two"}).kept == 2);
  }
  {
    std::ofstream app(tmp.path + "/names.jsonl", std::ios::app | std::ios::binary);
    app << "{\"uid\":\"0123456789abcdef\",\"func_name\":\"tor"; // no newline
  }
  {
    output_folder out{tmp.path, "fim", default_filter()};
    CHECK(out.preexisting() == 2);
    auto data = slurp(tmp.path + "/names.jsonl");
    REQUIRE_FALSE(data.empty());
    CHECK(data.back() == '\n');
    CHECK(json_lines(tmp.path + "/names.jsonl").size() == 2);
    // Writing after the repair appends whole lines.
    CHECK(out.write(1, "m", {"three"}).kept == 1);
  }
  auto recs = json_lines(tmp.path + "/names.jsonl");
  REQUIRE(recs.size() == 3);
  CHECK(recs[2].at("func_name") == "three");
  // The uid of the torn record was not taken as known.
  CHECK(lines_of(slurp(tmp.path + "/hash_table.txt")).size() == 3);
}

TEST_CASE("output_folder cuts a torn last line of hash_table.txt on reopen") {
  temp_dir tmp;
  {
    output_folder out{tmp.path, "fim", default_filter()};
    REQUIRE(out.write(0, "m", {"one"}).kept == 1);
  }
  {
    std::ofstream app(tmp.path + "/hash_table.txt", std::ios::app | std::ios::binary);
    app << "abcdef"; // partial uid
  }
  output_folder out{tmp.path, "fim", default_filter()};
  CHECK(out.preexisting() == 1);
  CHECK(out.write(1, "m", {"two"}).kept == 1);
  auto hashes = lines_of(slurp(tmp.path + "/hash_table.txt"));
  REQUIRE(hashes.size() == 2);
  CHECK(hashes[0] == uid_hex(uid_key("one")));
  CHECK(hashes[1] == uid_hex(uid_key("two")));
}

TEST_CASE("output_folder recovers a uid found only in names.jsonl into hash_table.txt") {
  temp_dir tmp;
  {
    output_folder out{tmp.path, "fim", default_filter()};
    REQUIRE(out.write(0, "m", {"kept_one", "lost_one"}).kept == 2);
  }
  // Simulate a crash between the two appends: drop the last hash line.
  auto hashes = lines_of(slurp(tmp.path + "/hash_table.txt"));
  REQUIRE(hashes.size() == 2);
  {
    std::ofstream rewrite(tmp.path + "/hash_table.txt",
                          std::ios::trunc | std::ios::binary);
    rewrite << hashes[0] << "\n";
  }
  {
    output_folder out{tmp.path, "fim", default_filter()};
    CHECK(out.preexisting() == 2);
    auto st = out.write(1, "m", {"lost_one"});
    CHECK(st.kept == 0);
    CHECK(st.duplicates == 1);
  }
  auto after = lines_of(slurp(tmp.path + "/hash_table.txt"));
  std::set<std::string> uids(after.begin(), after.end());
  CHECK(after.size() == 2);
  CHECK(uids.count(uid_hex(uid_key("lost_one"))) == 1);
  CHECK(uids.count(uid_hex(uid_key("kept_one"))) == 1);
  CHECK(json_lines(tmp.path + "/names.jsonl").size() == 2);
}

TEST_CASE("output_folder hash_table.txt alone (no names.jsonl) is honoured") {
  temp_dir tmp;
  {
    std::ofstream h(tmp.path + "/hash_table.txt", std::ios::binary);
    h << uid_hex(uid_key("legacy_name")) << "\n" << "not-a-uid\n";
  }
  output_folder out{tmp.path, "fim", default_filter()};
  CHECK(out.preexisting() == 1);
  auto st = out.write(0, "m", {"legacy_name", "fresh_name"});
  CHECK(st.duplicates == 1);
  CHECK(st.kept == 1);
}

TEST_CASE("output_folder record_failure appends a JSON line with request_index and reason") {
  temp_dir tmp;
  {
    output_folder out{tmp.path, "l2r", default_filter()};
    failure_record rec;
    rec.index = 41;
    rec.attempts = 4;
    rec.http_status = 503;
    rec.failure = failure_kind::http_status;
    rec.reason = "HTTP 503: \"overloaded\"\n\tretry later";
    out.record_failure(rec);
    rec.index = 42;
    rec.failure = failure_kind::timeout;
    rec.http_status = 0;
    rec.reason = "timeout";
    out.record_failure(rec);
  }
  auto lines = json_lines(tmp.path + "/failures.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("request_index") == 41);
  CHECK(lines[0].at("reason") == "HTTP 503: \"overloaded\"\n\tretry later");
  CHECK(lines[0].at("http_status") == 503);
  CHECK(lines[0].at("attempts") == 4);
  CHECK(lines[0].at("failure") == "http_status");
  CHECK(lines[0].at("mode") == "l2r");
  CHECK(lines[1].at("request_index") == 42);
  CHECK(lines[1].at("failure") == "timeout");
  // Failures do not pollute the names.
  CHECK(slurp(tmp.path + "/names.jsonl").empty());
}

TEST_CASE("output_folder that cannot be created throws output_error naming the path") {
  temp_dir tmp;
  auto file = tmp.path + "/plain_file";
  { std::ofstream f(file); f << "x"; }
  auto bad = file + "/sub/dir";
  try {
    output_folder out{bad, "fim", default_filter()};
    FAIL("no exception");
  } catch (const output_error& e) {
    std::string what = e.what();
    CAPTURE(what);
    CHECK(what.find(bad) != std::string::npos);
  }
}

TEST_CASE("append_json_string escapes quotes, backslashes and control chars") {
  std::string raw = "a\"b\\c\nd\re\tf\bg\fh";
  raw += '\0';
  raw += "\x01\x1f\x7f end \xc3\xa9"; // DEL and UTF-8 pass through
  std::string out = "prefix:";
  append_json_string(out, raw);
  REQUIRE(out.rfind("prefix:", 0) == 0);
  auto lit = out.substr(7);
  CHECK(lit.front() == '"');
  CHECK(lit.back() == '"');
  for (char c : lit)
    CHECK(static_cast<unsigned char>(c) >= 0x20); // no raw control char left
  auto j = json::parse(lit);
  REQUIRE(j.is_string());
  CHECK(j.get<std::string>() == raw);
  std::string empty;
  append_json_string(empty, "");
  CHECK(empty == "\"\"");
}

TEST_CASE("output_folder records with hostile raw text stay valid JSON") {
  temp_dir tmp;
  {
    output_folder out{tmp.path, "fim", default_filter()};
    std::string raw = "evil_name(\"x\\y\")\n\t\x01";
    auto st = out.write(3, "mo\"del", {raw});
    REQUIRE(st.kept == 1);
  }
  auto recs = json_lines(tmp.path + "/names.jsonl");
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].at("func_name") == "evil_name");
  CHECK(recs[0].at("raw_text") == "evil_name(\"x\\y\")\n\t\x01");
  CHECK(recs[0].at("model") == "mo\"del");
}

#include "actors/request/openai_protocol.hpp"

// Regression (same root cause, fixed as in test_openai_protocol.cpp): a long non-ASCII
// server error message is cut mid-character by error_summary(); the reason is
// written to failures.jsonl byte for byte, so the line is not valid JSON.
TEST_CASE("failures.jsonl stays valid JSON for a long non-ASCII server error"
         ) {
  temp_dir tmp;
  std::string msg(199, 'x');
  for (int i = 0; i < 20; ++i)
    msg += "\xe2\x82\xac"; // euro sign, 3 bytes
  json body = {{"error", {{"message", msg}}}};
  {
    output_folder out{tmp.path, "fim", default_filter()};
    failure_record rec;
    rec.index = 5;
    rec.failure = failure_kind::http_status;
    rec.http_status = 500;
    rec.reason = "HTTP 500: " + error_summary(body.dump());
    out.record_failure(rec);
  }
  auto data = slurp(tmp.path + "/failures.jsonl");
  REQUIRE_FALSE(data.empty());
  auto j = json::parse(data.substr(0, data.size() - 1), nullptr, false);
  CHECK_FALSE(j.is_discarded());
}

TEST_CASE("output_folder stage keeps records off disk until flush writes them "
          "all") {
  temp_dir tmp;
  output_folder folder{tmp.path, "l2r", default_filter()};
  auto names = tmp.path + "/names.jsonl";
  auto hashes = tmp.path + "/hash_table.txt";
  auto a = folder.stage(0, "m", {"alpha(", "beta("});
  auto b = folder.stage(1, "m", {"alpha(", "gamma("});
  CHECK(a.kept == 2);
  CHECK(b.kept == 1); // alpha was staged already: a duplicate
  CHECK(b.duplicates == 1);
  CHECK(slurp(names).empty());
  CHECK(slurp(hashes).empty());
  CHECK(folder.size() == 0);
  folder.flush();
  auto records = json_lines(names);
  REQUIRE(records.size() == 3);
  CHECK(records[0]["func_name"] == "alpha");
  CHECK(records[1]["func_name"] == "beta");
  CHECK(records[2]["func_name"] == "gamma");
  CHECK(records[2]["request_index"] == 1);
  CHECK(lines_of(slurp(hashes)).size() == 3);
  CHECK(folder.size() == 3);
  folder.flush(); // nothing staged: nothing appended
  CHECK(json_lines(names).size() == 3);
}
