// Output files are never written through a symbolic link or into anything
// but a regular file: each link points at a file this test made in its own
// mkdtemp folder, and the target must be unchanged afterwards.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "actors/writer/output_folder.hpp"
#include "actors/writer/run_journal.hpp"
#include "tests/unit/writer_test_util.hpp"

using namespace evo;
using namespace evo::test;
namespace fs = std::filesystem;

namespace {

const std::string target_text = "the target's own content\n";

// <tmp>/target.txt with known content, and `link` pointing at it.
std::string make_link(const temp_dir& tmp, const std::string& link) {
  auto target = tmp.path + "/target.txt";
  { std::ofstream(target, std::ios::binary) << target_text; }
  fs::create_directories(fs::path(link).parent_path());
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  return target;
}

name_filter any_name() {
  return name_filter{"^[a-z_][a-z0-9_]*$", {}};
}

// The message of the output_error that f() throws ("" = none thrown).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const output_error& e) {
    return e.what();
  }
  return {};
}

} // namespace

TEST_CASE("a symlinked names.jsonl or hash_table.txt is refused and its target unchanged") {
  for (const char* file : {"names.jsonl", "hash_table.txt"}) {
    CAPTURE(file);
    temp_dir tmp{"evo-links"};
    auto dir = tmp.path + "/out/fim";
    auto target = make_link(tmp, dir + "/" + file);
    auto msg = error_of([&] {
      output_folder out{dir, "fim", any_name()};
      out.write(0, "m", {"written_through_link"});
    });
    CAPTURE(msg);
    CHECK(msg.find(dir + "/" + file) != std::string::npos);
    CHECK(msg.find("symbolic link") != std::string::npos);
    CHECK(slurp(target) == target_text);
  }
}

TEST_CASE("a symlinked failures.jsonl is refused at the first failure; target unchanged") {
  temp_dir tmp{"evo-links"};
  auto dir = tmp.path + "/fim";
  auto target = make_link(tmp, dir + "/failures.jsonl");
  output_folder out{dir, "fim", any_name()};
  failure_record rec;
  rec.index = 1;
  rec.reason = "boom";
  auto msg = error_of([&] { out.record_failure(rec); });
  CHECK(msg.find("symbolic link") != std::string::npos);
  CHECK(slurp(target) == target_text);
}

TEST_CASE("a job folder that is a symlink is refused; the folder it points at stays empty") {
  temp_dir tmp{"evo-links"};
  auto elsewhere = tmp.path + "/elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directories(tmp.path + "/out");
  REQUIRE(::symlink(elsewhere.c_str(), (tmp.path + "/out/fim").c_str()) == 0);
  auto msg = error_of([&] {
    output_folder out{tmp.path + "/out/fim", "fim", any_name()};
    out.write(0, "m", {"written_through_link"});
  });
  CAPTURE(msg);
  CHECK(msg.find(tmp.path + "/out/fim") != std::string::npos);
  CHECK(msg.find("symbolic link") != std::string::npos);
  CHECK(fs::is_empty(elsewhere));
}

TEST_CASE("a job folder given with a trailing slash is still refused when it is a symlink") {
  temp_dir tmp{"evo-links"};
  auto elsewhere = tmp.path + "/elsewhere";
  fs::create_directories(elsewhere);
  REQUIRE(::symlink(elsewhere.c_str(), (tmp.path + "/fim").c_str()) == 0);
  auto msg = error_of([&] { output_folder out{tmp.path + "/fim//", "fim", any_name()}; });
  CHECK(msg.find("symbolic link") != std::string::npos);
  CHECK(fs::is_empty(elsewhere));
}

TEST_CASE("the output root given by the user may be a symlink (it is followed)") {
  temp_dir tmp{"evo-links"};
  auto real = tmp.path + "/real";
  fs::create_directories(real);
  REQUIRE(::symlink(real.c_str(), (tmp.path + "/out").c_str()) == 0);
  {
    output_folder out{tmp.path + "/out/fim", "fim", any_name()};
    CHECK(out.write(0, "m", {"kept_name"}).kept == 1);
  }
  CHECK(slurp(real + "/fim/names.jsonl").find("kept_name") != std::string::npos);
}

TEST_CASE("a FIFO in place of names.jsonl is refused without blocking") {
  temp_dir tmp{"evo-links"};
  auto dir = tmp.path + "/fim";
  fs::create_directories(dir);
  REQUIRE(::mkfifo((dir + "/names.jsonl").c_str(), 0644) == 0);
  auto msg = error_of([&] { output_folder out{dir, "fim", any_name()}; });
  CAPTURE(msg);
  CHECK(msg.find("not a regular file") != std::string::npos);
}

TEST_CASE("a symlinked journal.jsonl is refused as an output error, target unchanged") {
  temp_dir tmp{"evo-links"};
  auto target = make_link(tmp, tmp.path + "/journal.jsonl");
  for (bool resume : {false, true}) {
    CAPTURE(resume);
    bool conflict = false;
    std::string msg;
    try {
      run_journal j{tmp.path + "/journal.jsonl", {"a"}, resume};
      j.record("a", 0, true);
    } catch (const journal_conflict& e) {
      conflict = true;
    } catch (const output_error& e) {
      msg = e.what();
    }
    CHECK_FALSE(conflict); // exit 1 (cannot write), not 2 (usage)
    CHECK(msg.find("symbolic link") != std::string::npos);
  }
  CHECK(slurp(target) == target_text);
}

TEST_CASE("a report file is never written through a symlink at its name or its temp name") {
  for (const char* linked : {"report.json", "report.json.tmp"}) {
    CAPTURE(linked);
    temp_dir tmp{"evo-links"};
    auto dir = tmp.path + "/out";
    auto target = make_link(tmp, dir + "/" + linked);
    auto msg = error_of([&] { write_report_file(dir, "report.json", "{\"jobs\":[]}\n"); });
    CAPTURE(msg);
    CHECK(msg.find(dir + "/" + linked) != std::string::npos);
    CHECK(msg.find("symbolic link") != std::string::npos);
    CHECK(slurp(target) == target_text);
    // The link is left as the user made it.
    CHECK(fs::is_symlink(dir + "/" + linked));
  }
}

TEST_CASE("a report file replaces the old one whole; a stale temp file hard-linked elsewhere is not truncated") {
  temp_dir tmp{"evo-links"};
  auto dir = tmp.path + "/out";
  fs::create_directories(dir);
  { std::ofstream(dir + "/report.json") << "old report\n"; }
  auto other = tmp.path + "/other.txt";
  { std::ofstream(other) << target_text; }
  REQUIRE(::link(other.c_str(), (dir + "/report.json.tmp").c_str()) == 0);
  write_report_file(dir, "report.json", "new report\n");
  CHECK(slurp(dir + "/report.json") == "new report\n");
  CHECK_FALSE(fs::exists(dir + "/report.json.tmp"));
  CHECK(slurp(other) == target_text);
}

TEST_CASE("a report file's folder given by the user may be a symlink; a folder at the report's name is refused") {
  temp_dir tmp{"evo-links"};
  auto real = tmp.path + "/real";
  fs::create_directories(real);
  REQUIRE(::symlink(real.c_str(), (tmp.path + "/out").c_str()) == 0);
  write_report_file(tmp.path + "/out", "report.json", "{}\n");
  CHECK(slurp(real + "/report.json") == "{}\n");
  fs::create_directories(real + "/r2.json");
  auto msg = error_of([&] { write_report_file(real, "r2.json", "{}\n"); });
  CHECK(msg.find("not a regular file") != std::string::npos);
}
