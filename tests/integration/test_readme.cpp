// The README's examples, run as written: command 1 in a copy of the
// checkout's configs (default output folder, embedded simulator), and the
// config and manifest error messages it quotes.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <regex>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
namespace fs = std::filesystem;

namespace {

std::string readme() {
  return read_file(std::string{EVO_SOURCE_DIR} + "/README.md");
}

// The README's quoted message `<file>:<line>: ...` starting with `file`.
std::string quoted_error(const std::string& file) {
  std::smatch m;
  auto text = readme();
  REQUIRE_MESSAGE(std::regex_search(text, m, std::regex{"\\(?`(" + file
                                                        + ":[0-9]+: [^`]*)`"}),
                  "README quotes no " << file << " error");
  return m[1].str();
}

} // namespace

TEST_CASE("README command 1 writes data/generated/names in the current "
          "directory") {
  auto text = readme();
  REQUIRE(text.find("build/evoselfcode datagen generate-names --config "
                    "configs/datagen.yaml\n")
          != std::string::npos);
  // A copy of the checkout's configs as the current directory: the run
  // writes where the README says, relative to it.
  auto dir = make_temp_dir();
  fs::copy(std::string{EVO_SOURCE_DIR} + "/configs", dir + "/configs",
           fs::copy_options::recursive);
  child_process proc{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
                      "generate-names", "--config", "configs/datagen.yaml"},
                     {},
                     dir};
  auto code = proc.wait(std::chrono::seconds(120));
  if (!code)
    proc.signal(SIGKILL);
  INFO(proc.drain_stderr());
  REQUIRE(code == 0);
  auto out = dir + "/data/generated/names";
  for (auto mode : {"fim", "l2r"}) {
    CAPTURE(mode);
    CHECK(read_jsonl(out + "/" + mode + "/names.jsonl").size() > 10);
    CHECK(read_lines(out + "/" + mode + "/hash_table.txt").size()
          == read_jsonl(out + "/" + mode + "/names.jsonl").size());
  }
  CHECK(file_exists(out + "/report.json"));
  auto table = proc.drain_stdout();
  CHECK(table.find("fim") != std::string::npos);
  CHECK(table.find("l2r") != std::string::npos);
}

TEST_CASE("the README's config error example is the message a user gets") {
  auto expected = quoted_error("datagen.yaml"); // datagen.yaml:3: key 'namegen.n' ...
  auto dir = make_temp_dir();
  write_file(dir + "/datagen.yaml",
             "model_config: model.yaml\nnamegen:\n  n: four\n");
  write_file(dir + "/model.yaml", "api:\n  base_url: embedded\n");
  auto r = run_cli({"datagen", "generate-names", "--config",
                    dir + "/datagen.yaml", "--out", dir + "/out"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find(dir + "/" + expected) != std::string::npos,
                "README: " << expected << "\ngot: " << r.err);
  CHECK_FALSE(file_exists(dir + "/out"));
}

TEST_CASE("the README's manifest error example is the message a user gets") {
  auto expected = quoted_error("manifest.yaml"); // manifest.yaml:10: job 'fim_hot' ...
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "embedded";
  write_config(dir, c);
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\n"   // 1
             "jobs:\n"                       // 2
             "  - name: fim_a\n"             // 3
             "    mode: fim\n"               // 4
             "    prefix: \"def \"\n"        // 5
             "    suffix: \"():\\n\"\n"      // 6
             "    num_batches: 2\n"          // 7
             "  - name: fim_hot\n"           // 8
             "    mode: fim\n"               // 9
             "    temperature: hot\n"        // 10
             "    prefix: \"def \"\n"        // 11
             "    suffix: \"():\\n\"\n"      // 12
             "    num_batches: 2\n");        // 13
  auto r = run_cli({"datagen", "run", "--manifest", dir + "/manifest.yaml",
                    "--out", dir + "/out"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find(dir + "/" + expected) != std::string::npos,
                "README: " << expected << "\ngot: " << r.err);
  CHECK_FALSE(file_exists(dir + "/out"));
}
