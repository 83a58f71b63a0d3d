// The Python tool's own config files (../shared/fixtures/upstream-evoselfcode)
// run unchanged through the real binary against the simulator, and bad
// command-line values are refused with exit 2 before any request.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A fixture path; fails (never skips) when the fixtures are missing.
std::string fixture(const std::string& rel) {
  const fs::path p = fs::path(EVO_SOURCE_DIR) / ".." / "shared" / "fixtures"
                     / "upstream-evoselfcode" / rel;
  REQUIRE_MESSAGE(fs::exists(p), "fixture missing: " << p.string()
                                   << " (the Python tool's configs are expected "
                                      "in ../shared next to the checkout)");
  return p.string();
}

/// requests of job `mode` in <out>/report.json
int requests_of(const std::string& out, const std::string& mode) {
  auto report = json::parse(read_file(out + "/report.json"));
  for (auto& job : report["jobs"])
    if (job["mode"] == mode)
      return job["requests"].get<int>();
  return -1;
}

} // namespace

TEST_CASE("7981d11: datagen.yaml runs unchanged against the simulator") {
  auto sim = start_sim({"--seed", "3"});
  auto dir = make_temp_dir();
  auto r = run_cli({"datagen", "generate-names", "--config",
                    fixture("7981d11/configs/datagen.yaml"), "--base-url",
                    sim.base_url(), "--out", dir + "/out"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("key 'api': 'pass' (a Python placeholder) where a mapping goes: "
                   "ignored")
        != std::string::npos);
  CHECK(r.err.find("not used by this command: codegen") != std::string::npos);
  CHECK(r.err.find("7981d11/configs/model.yaml (relative to the project folder")
        != std::string::npos);
  for (const char* mode : {"fim", "l2r"}) {
    CAPTURE(mode);
    CHECK(requests_of(dir + "/out", mode) == 2); // num_batches: 2
    auto recs = read_jsonl(dir + "/out/" + mode + "/names.jsonl");
    CHECK(!recs.empty());
    for (auto& rec : recs)
      CHECK(rec["model"] == "Qwen2.5-Coder-32B");
  }
}

TEST_CASE("41dbf68: configs/datagen/{fim,l2r}.yaml run unchanged") {
  auto sim = start_sim({"--seed", "4"});
  auto dir = make_temp_dir();
  for (const char* mode : {"fim", "l2r"}) {
    CAPTURE(mode);
    auto r = run_cli({"datagen", "generate-names", "--mode", mode, "--config",
                      fixture(std::string("41dbf68/configs/datagen/") + mode + ".yaml"),
                      "--base-url", sim.base_url(), "--out", dir + "/out",
                      "--num-samples", "7"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("namegen.extract: text") != std::string::npos);
    CHECK(requests_of(dir + "/out", mode) == 7); // n = 1
    CHECK(file_exists(dir + "/out/" + std::string(mode) + "/names.jsonl"));
  }
}

TEST_CASE("--mode fim without --config reads configs/datagen/fim.yaml") {
  auto sim = start_sim({"--seed", "5"});
  auto dir = make_temp_dir();
  fs::copy(fixture("41dbf68/configs"), dir + "/configs", fs::copy_options::recursive);
  child_process proc{{std::string(EVO_BINARY_DIR) + "/evoselfcode", "datagen",
                      "generate-names", "--mode", "fim", "--base-url",
                      sim.base_url(), "--num-samples", "4", "--out", "o"},
                     {},
                     dir};
  auto code = proc.wait(std::chrono::seconds(60));
  auto err = proc.drain_stderr();
  INFO(err);
  REQUIRE(code == 0);
  CHECK(err.find("config configs/datagen/fim.yaml (no --config") != std::string::npos);
  CHECK(requests_of(dir + "/o", "fim") == 4);
  CHECK(!file_exists(dir + "/o/l2r"));
}

TEST_CASE("bad command-line values: exit 2, the config's message, nothing written") {
  auto dir = make_temp_dir();
  const std::string cfg = fixture("7981d11/configs/datagen.yaml");
  struct bad_case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string rate = "--rate-limit: expected a number > 0 (omit the key for no limit), got ";
  const bad_case cases[] = {
    {{"--rate-limit", "nan"}, rate + "nan"},
    {{"--rate-limit", "inf"}, rate + "inf"},
    {{"--rate-limit", "-0"}, rate + "-0"},
    {{"--rate-limit", "0"}, rate + "0"},
    {{"--concurrency", "1000000000"},
     "--concurrency: expected an integer between 1 and 65536, got 1000000000"},
    {{"--base-url", "http://127.0.0.1:99999"},
     "--base-url: expected an http:// or https:// URL or \"embedded\", got "
     "\"http://127.0.0.1:99999\""},
    {{"--num-batches", "2", "--num-samples", "8"},
     "--num-batches and --num-samples: expected one of the two, got both"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"datagen", "generate-names", "--config", cfg,
                                  "--out", dir + "/out"};
    if (c.args[0] != "--base-url") {
      args.push_back("--base-url");
      args.push_back("http://127.0.0.1:9");
    }
    args.insert(args.end(), c.args.begin(), c.args.end());
    CAPTURE(c.args[0]);
    auto r = run_cli(args, {}, std::chrono::seconds(30));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("error: " + c.message + "\n") != std::string::npos);
    CHECK_MESSAGE(r.err.size() < 4096, r.err);
    CHECK(!file_exists(dir + "/out"));
  }
}

TEST_CASE("--config /dev/zero or a FIFO: exit 2 at once, nothing written") {
  auto dir = make_temp_dir();
  const std::string fifo = dir + "/fifo.yaml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& path : {std::string("/dev/zero"), fifo}) {
    CAPTURE(path);
    auto r = run_cli({"datagen", "generate-names", "--config", path, "--out",
                      dir + "/out"},
                     {}, std::chrono::seconds(20));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("error: " + path + ": cannot read: expected a regular file, got a ")
          != std::string::npos);
    CHECK(!file_exists(dir + "/out"));
  }
}

TEST_CASE("a manifest over the 7981d11 config logs its notes and runs") {
  auto sim = start_sim({"--seed", "6"});
  auto dir = make_temp_dir();
  write_file(dir + "/manifest.yaml",
             "base_config: " + fixture("7981d11/configs/datagen.yaml") + "\n"
             "jobs:\n"
             "  - {name: l2r_a, mode: l2r, prompt: \"def \", num_batches: 2}\n");
  auto r = run_cli({"datagen", "run", "--manifest", dir + "/manifest.yaml",
                    "--base-url", sim.base_url(), "--out", dir + "/out"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("key 'api': 'pass' (a Python placeholder)") != std::string::npos);
  CHECK(r.err.find("not used by this command: codegen") != std::string::npos);
}
