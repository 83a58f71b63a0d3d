// Disk trouble under a real run: an output folder that cannot be written, a
// full disk (a 64 KiB tmpfs), names.jsonl deleted under a running writer.
// The mounts need root (CAP_SYS_ADMIN). The two mount cases run as their own
// ctest entry (reliability_disk) with EVO_SKIP_EXIT_CODE=77 and
// SKIP_RETURN_CODE 77: where mount is refused, the process exits 77 and
// ctest reports "Skipped"; run by hand without that variable, it fails.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

int run_tool(std::vector<std::string> argv) {
  try {
    child_process p{std::move(argv)};
    return p.wait(std::chrono::seconds(20)).value_or(-1);
  } catch (const std::exception&) {
    return -1;
  }
}

// A tmpfs mounted on `dir` (created), unmounted (lazily) on destruction.
struct tmpfs_mount {
  std::string dir;
  bool ok = false;
  tmpfs_mount(std::string d, const std::string& options) : dir(std::move(d)) {
    ::mkdir(dir.c_str(), 0755);
    ok = run_tool({"mount", "-t", "tmpfs", "-o", options, "tmpfs", dir}) == 0;
  }
  ~tmpfs_mount() {
    if (ok)
      run_tool({"umount", "-l", dir});
  }
};

// Every line of `path` is a whole JSON object (a torn tail would fail).
size_t whole_json_lines(const std::string& path) {
  auto text = read_file(path);
  if (text.empty())
    return 0;
  CHECK_MESSAGE(text.back() == '\n', path << " ends in a torn line");
  return read_jsonl(path).size();
}

// No tmpfs: a skip, shown as one (never as a pass).
void skip_without_mount() {
  const char* code = std::getenv("EVO_SKIP_EXIT_CODE");
  if (code != nullptr) {
    std::fprintf(stderr, "SKIPPED: mount -t tmpfs is not permitted here "
                         "(needs root)\n");
    std::fflush(nullptr);
    std::_Exit(std::atoi(code));
  }
  FAIL("mount -t tmpfs is not permitted here (needs root); ctest runs this "
       "case as reliability_disk and reports it skipped");
}

} // namespace

TEST_CASE("an output folder on a read-only file system exits 1 and names it") {
  auto dir = make_temp_dir();
  tmpfs_mount ro(dir + "/ro", "ro,size=64k");
  if (!ro.ok)
    skip_without_mount();
  auto sim = start_sim();
  test_config c;
  c.base_url = sim.base_url();
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--out",
                    dir + "/ro/out"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/ro/out") != std::string::npos);
  CHECK(r.err.find("Read-only file system") != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/ro/out"));
}

TEST_CASE("a full disk ends the run with a clear error and whole lines only") {
  auto dir = make_temp_dir();
  tmpfs_mount small(dir + "/small", "size=64k");
  if (!small.ok)
    skip_without_mount();
  // ~200 bytes per record: 64 KiB holds a few hundred names; 3000 requests
  // of 8 choices over a large vocabulary offer far more.
  auto sim = start_sim({"--vocabulary", "1000000", "--seed", "9"});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 3000;
  c.n = 8;
  c.pool = 8;
  auto cfg = write_config(dir, c);
  auto out = dir + "/small/out";
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--out", out,
                    "--mode", "l2r", "--quiet"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("No space left on device") != std::string::npos);
  CHECK(r.err.find(out + "/l2r/") != std::string::npos);
  auto names = whole_json_lines(out + "/l2r/names.jsonl");
  CHECK(names > 0);
  // hash_table.txt: whole uid lines, each one of a record in names.jsonl
  // (names.jsonl is written first, so it may hold a few more).
  auto recs = read_jsonl(out + "/l2r/names.jsonl");
  std::set<std::string> uids;
  for (auto& rec : recs)
    CHECK(uids.insert(rec["uid"].get<std::string>()).second);
  auto hashes_text = read_file(out + "/l2r/hash_table.txt");
  if (!hashes_text.empty())
    CHECK(hashes_text.back() == '\n');
  for (auto& h : read_lines(out + "/l2r/hash_table.txt")) {
    CHECK(h.size() == 16);
    CHECK(uids.count(h) == 1);
  }
}

// Defined behaviour: the writer holds names.jsonl open (O_APPEND); removing
// the file under it does not stop or crash the run. Later records go to the
// unlinked inode (lost with it), the run ends normally (exit 0, every item
// done), names.jsonl is not re-created, and hash_table.txt keeps every uid
// kept, so a rerun never writes those names again.
TEST_CASE("names.jsonl deleted under a running writer: the run goes on") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--latency-ms", "20", "--seed", "4"});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 300;
  c.n = 4;
  c.pool = 4;
  auto cfg = write_config(dir, c);
  auto names = dir + "/out/l2r/names.jsonl";
  child_process proc{{std::string{EVO_BINARY_DIR} + "/evoselfcode", "datagen",
                      "generate-names", "--config", cfg, "--mode", "l2r",
                      "--quiet"}};
  // Bounded wait until some records are on disk, then delete the file.
  for (int i = 0; i < 400 && read_lines(names).size() < 20; ++i)
    proc.wait(std::chrono::milliseconds(25));
  auto before = read_lines(names).size();
  REQUIRE(before >= 20);
  REQUIRE(std::remove(names.c_str()) == 0);
  auto code = proc.wait(std::chrono::seconds(120));
  auto err = proc.drain_stderr();
  INFO(err);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  auto& job = report["jobs"][0];
  CHECK(job["done"] == 300);
  CHECK(job["failed"] == 0);
  CHECK_FALSE(file_exists(names));
  auto hashes = read_lines(dir + "/out/l2r/hash_table.txt");
  CHECK(hashes.size() == job["kept"].get<size_t>());
  CHECK(hashes.size() > before); // records were kept after the delete
  // A rerun takes the hash table as the folder's names and adds none of them.
  auto rerun = run_cli({"datagen", "generate-names", "--config", cfg,
                        "--mode", "l2r", "--num-batches", "10", "--quiet"});
  CHECK(rerun.exit_code == 0);
  std::set<std::string> old(hashes.begin(), hashes.end());
  for (auto& rec : read_jsonl(names))
    CHECK(old.count(rec["uid"].get<std::string>()) == 0);
  CHECK(read_lines(dir + "/out/l2r/hash_table.txt").size()
        == hashes.size() + read_jsonl(names).size());
}

// A symbolic link planted where an output file goes: the run refuses to write
// through it (exit 1, the path and the reason on stderr) and the file it
// points at, made by this test in its own folder, is unchanged.
TEST_CASE("a symlinked names.jsonl ends the run with exit 1; its target is unchanged") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--seed", "5"});
  test_config c;
  c.base_url = sim.base_url();
  auto cfg = write_config(dir, c);
  auto target = dir + "/target.txt";
  write_file(target, "not yours\n");
  ::mkdir((dir + "/out").c_str(), 0755);
  ::mkdir((dir + "/out/fim").c_str(), 0755);
  REQUIRE(::symlink(target.c_str(), (dir + "/out/fim/names.jsonl").c_str()) == 0);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--out",
                    dir + "/out", "--mode", "fim", "--quiet"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/out/fim/names.jsonl") != std::string::npos);
  CHECK(r.err.find("symbolic link") != std::string::npos);
  CHECK(read_file(target) == "not yours\n");
}

TEST_CASE("a symlinked journal.jsonl ends `datagen run` with exit 1; its target is unchanged") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--seed", "6"});
  test_config c;
  c.base_url = sim.base_url();
  write_config(dir, c);
  write_file(dir + "/manifest.yaml",
             "base_config: datagen.yaml\njobs:\n"
             "  - {name: a, mode: l2r, prompt: \"def \", num_batches: 2}\n");
  auto target = dir + "/target.txt";
  write_file(target, "not yours\n");
  ::mkdir((dir + "/out").c_str(), 0755);
  REQUIRE(::symlink(target.c_str(), (dir + "/out/journal.jsonl").c_str()) == 0);
  auto r = run_cli({"datagen", "run", "--manifest", dir + "/manifest.yaml",
                    "--out", dir + "/out", "--quiet"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/out/journal.jsonl") != std::string::npos);
  CHECK(r.err.find("symbolic link") != std::string::npos);
  CHECK(read_file(target) == "not yours\n");
  CHECK_FALSE(file_exists(dir + "/out/a/names.jsonl"));
}
