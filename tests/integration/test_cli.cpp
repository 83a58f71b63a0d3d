// The real binary against a real HTTP server (the simulator executable on a
// free loopback port), checked through the files it writes.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <regex>
#include <set>
#include <thread>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

const std::regex name_re{"^[a-z_][a-z0-9_]{2,63}$"};

// Checks one mode folder and returns its records.
std::vector<json> check_folder(const std::string& dir) {
  auto recs = read_jsonl(dir + "/names.jsonl");
  std::set<std::string> uids;
  for (auto& r : recs) {
    REQUIRE(r.contains("uid"));
    for (auto key : {"func_name", "mode", "raw_text", "model",
                     "request_index", "choice_index", "timestamp"})
      CHECK_MESSAGE(r.contains(key), "record lacks " << key);
    CHECK_MESSAGE(uids.insert(r["uid"].get<std::string>()).second,
                  "duplicate uid " << r["uid"]);
    auto name = r["func_name"].get<std::string>();
    CHECK_MESSAGE(std::regex_match(name, name_re), "bad name " << name);
    CHECK(name != "main");
    CHECK(name != "solve");
  }
  auto hashes = read_lines(dir + "/hash_table.txt");
  CHECK(hashes.size() == recs.size());
  for (auto& h : hashes)
    CHECK(uids.count(h) == 1);
  return recs;
}

} // namespace

TEST_CASE("generate-names writes deduped FIM and L2R names and a report") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--seed", "7", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 12;
  c.n = 6;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto fim = check_folder(dir + "/out/fim");
  auto l2r = check_folder(dir + "/out/l2r");
  CHECK(!fim.empty());
  CHECK(!l2r.empty());
  for (auto& rec : fim)
    CHECK(rec["mode"] == "fim");
  for (auto& rec : l2r) {
    CHECK(rec["mode"] == "l2r");
    CHECK(rec["model"] == "test-model");
    CHECK(rec["request_index"].get<int>() < 12);
    CHECK(rec["choice_index"].get<int>() < 6);
  }
  // The report's numbers are the files' numbers.
  auto report = json::parse(read_file(dir + "/out/report.json"));
  REQUIRE(report["jobs"].size() == 2);
  for (auto& job : report["jobs"]) {
    auto mode = job["mode"].get<std::string>();
    auto recs = mode == "fim" ? fim : l2r;
    CHECK(job["requests"] == 12);
    CHECK(job["done"] == 12);
    CHECK(job["failed"] == 0);
    CHECK(job["choices"] == 72);
    CHECK(job["kept"] == recs.size());
    CHECK(job["kept"].get<int>() + job["duplicates"].get<int>()
            + job["filtered"]["empty"].get<int>()
            + job["filtered"]["regex"].get<int>()
            + job["filtered"]["weaklist"].get<int>()
          == 72);
  }
  CHECK(r.out.find("fim") != std::string::npos);
  CHECK(r.out.find("l2r") != std::string::npos);
  CHECK(r.err.find("summary fim") != std::string::npos);
  // Every request reached the server exactly once (no faults: no retries):
  // 12 per mode, each answered 200 with the 6 choices asked.
  sim.proc->signal(SIGTERM);
  REQUIRE(sim.proc->wait(std::chrono::seconds(5)).has_value());
  auto entries = read_sim_log(log);
  CHECK(entries.size() == 24);
  for (auto& e : entries) {
    CHECK(e["status"] == 200);
    CHECK(e["n"] == 6);
  }
  CHECK(report["total"]["attempts"] == entries.size());
}

TEST_CASE("a second run into the same folder never writes a name twice") {
  auto sim = start_sim({"--seed", "3"});
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 10;
  c.n = 8;
  auto cfg = write_config(dir, c);
  auto first = run_cli({"datagen", "generate-names", "--config", cfg,
                        "--mode", "fim"});
  REQUIRE(first.exit_code == 0);
  auto before = read_jsonl(dir + "/out/fim/names.jsonl").size();
  REQUIRE(before > 0);
  auto second = run_cli({"datagen", "generate-names", "--config", cfg,
                         "--mode", "fim"});
  REQUIRE(second.exit_code == 0);
  auto recs = check_folder(dir + "/out/fim"); // no duplicate uid across runs
  CHECK(recs.size() >= before);
  CHECK(second.err.find(std::to_string(before) + " names already in")
        != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/out/l2r"));
}

TEST_CASE("retryable server errors are retried and counted") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--fault-rate", "0.3", "--faults", "500,503,429",
                        "--seed", "11", "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 30;
  c.max_retries = 8;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--quiet"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  auto& job = report["jobs"][0];
  CHECK(job["done"] == 30);
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  auto entries = read_sim_log(log);
  // Every attempt the client counted reached the server, and every fault
  // the server injected was retried.
  CHECK(job["attempts"].get<size_t>() == entries.size());
  size_t faults = 0;
  for (auto& e : entries)
    if (e["status"] != 200)
      ++faults;
  CHECK(job["retries"].get<size_t>() == faults);
  CHECK(faults > 0);
}

TEST_CASE("requests that fail for good go to failures.jsonl and exit 3") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--fault-rate", "1", "--faults", "503",
                        "--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 4;
  c.max_retries = 2;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg});
  CHECK(r.exit_code == 3);
  for (auto mode : {"fim", "l2r"}) {
    auto fails = read_jsonl(dir + "/out/" + std::string{mode}
                            + "/failures.jsonl");
    CHECK(fails.size() == 4);
    std::set<int> indices;
    for (auto& f : fails) {
      indices.insert(f["request_index"].get<int>());
      CHECK(f["attempts"] == 3);
      CHECK(f["http_status"] == 503);
      CHECK(f["reason"].get<std::string>().find("503") != std::string::npos);
    }
    CHECK(indices.size() == 4);
  }
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  CHECK(read_sim_log(log).size() == 2 * 4 * 3); // modes x items x attempts
}

TEST_CASE("a 4xx other than 408/409/429 fails at once, without retries") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  // The simulator answers 400 to an X-Sim-Fault kind it does not know;
  // api.extra_headers puts that header on every request.
  auto sim = start_sim({"--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 3;
  c.max_retries = 5;
  c.api_extra = "  extra_headers:\n    X-Sim-Fault: \"400\"\n";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "fim"});
  CHECK(r.exit_code == 3);
  auto fails = read_jsonl(dir + "/out/fim/failures.jsonl");
  CHECK(fails.size() == 3);
  for (auto& f : fails)
    CHECK(f["attempts"] == 1);
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  CHECK(read_sim_log(log).size() == 3);
}

TEST_CASE("the rate limit holds from the server's point of view") {
  auto dir = make_temp_dir();
  auto log = dir + "/sim.jsonl";
  auto sim = start_sim({"--log-requests", log});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 40;
  c.pool = 8;
  c.api_extra = "";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                    "l2r", "--rate-limit", "20", "--quiet"});
  REQUIRE(r.exit_code == 0);
  sim.proc->signal(SIGTERM);
  sim.proc->wait(std::chrono::seconds(5));
  auto entries = read_sim_log(log);
  REQUIRE(entries.size() == 40);
  std::vector<int64_t> t;
  for (auto& e : entries)
    t.push_back(e["t_us"].get<int64_t>());
  std::sort(t.begin(), t.end());
  // Burst 1: no sliding one-second window holds more than 20 + 1.
  size_t lo = 0, worst = 0;
  for (size_t hi = 0; hi < t.size(); ++hi) {
    while (t[hi] - t[lo] >= 1000000)
      ++lo;
    worst = std::max(worst, hi - lo + 1);
  }
  CHECK(worst <= 21);
  // 40 tokens at 20/s with one in the bucket at the start: >= 1.95 s.
  CHECK(t.back() - t.front() >= 1900000);
  CHECK(t.back() - t.front() <= 2600000);
}

TEST_CASE("a bad config exits 2 and writes nothing") {
  auto dir = make_temp_dir();
  test_config c;
  c.base_url = "http://127.0.0.1:9/v1";
  c.namegen_extra = "  n_samples: 3\n";
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("datagen.yaml:") != std::string::npos);
  CHECK(r.err.find("namegen.n_samples") != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/out"));

  auto missing = run_cli({"datagen", "generate-names", "--config",
                          dir + "/nope.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("nope.yaml") != std::string::npos);

  c.namegen_extra = "";
  cfg = write_config(dir, c); // valid again: only the flags are wrong now
  auto bad_mode = run_cli({"datagen", "generate-names", "--config", cfg,
                           "--mode", "sideways"});
  CHECK(bad_mode.exit_code == 2);
  auto bad_flag = run_cli({"datagen", "generate-names", "--bogus"});
  CHECK(bad_flag.exit_code == 2);
  auto bad_url = run_cli({"datagen", "generate-names", "--config", cfg,
                          "--base-url", "ftp://x"});
  CHECK(bad_url.exit_code == 2);
  CHECK(bad_url.err.find("--base-url") != std::string::npos);
  CHECK_FALSE(file_exists(dir + "/out"));
}

TEST_CASE("an output folder that cannot be written is a clear error") {
  auto dir = make_temp_dir();
  write_file(dir + "/blocker", "a file where a folder should be\n");
  auto sim = start_sim();
  test_config c;
  c.base_url = sim.base_url();
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--out",
                    dir + "/blocker/out"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/blocker/out") != std::string::npos);
}

TEST_CASE("the API key never appears in logs or output files") {
  const std::string sentinel = "sk-SENTINEL-5f1d2c9a7e";
  auto dir = make_temp_dir();
  auto sim = start_sim({"--fault-rate", "0.3", "--faults", "500"});
  test_config c;
  c.base_url = sim.base_url();
  c.max_retries = 0; // some requests fail: their reasons are written too
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg,
                    "--verbose"},
                   {"OPENAI_API_KEY=" + sentinel});
  CHECK((r.exit_code == 0 || r.exit_code == 3));
  CHECK(r.out.find(sentinel) == std::string::npos);
  CHECK(r.err.find(sentinel) == std::string::npos);
  for (auto mode : {"fim", "l2r"})
    for (auto file : {"names.jsonl", "hash_table.txt", "failures.jsonl"})
      CHECK(read_file(dir + "/out/" + std::string{mode} + "/" + file)
              .find(sentinel)
            == std::string::npos);
  CHECK(read_file(dir + "/out/report.json").find(sentinel)
        == std::string::npos);
}

TEST_CASE("kill -9 mid-run leaves whole lines and a rerun adds no duplicate") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--latency-ms", "30", "--seed", "5"});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 400;
  c.n = 8;
  c.pool = 4;
  auto cfg = write_config(dir, c);
  auto names = dir + "/out/l2r/names.jsonl";
  {
    child_process proc{{std::string{EVO_BINARY_DIR} + "/evoselfcode",
                        "datagen", "generate-names", "--config", cfg,
                        "--mode", "l2r", "--quiet"}};
    // Wait (bounded) until some records are on disk, then kill -9.
    for (int i = 0; i < 200 && read_lines(names).size() < 20; ++i)
      proc.wait(std::chrono::milliseconds(25));
    proc.signal(SIGKILL);
    CHECK(proc.wait(std::chrono::seconds(5)).value_or(0) == 128 + SIGKILL);
  }
  auto killed = check_folder(dir + "/out/l2r");
  REQUIRE(killed.size() >= 20);
  auto rerun = run_cli({"datagen", "generate-names", "--config", cfg,
                        "--mode", "l2r", "--num-batches", "20", "--quiet"});
  CHECK(rerun.exit_code == 0);
  auto after = check_folder(dir + "/out/l2r");
  CHECK(after.size() >= killed.size());
}

TEST_CASE("the shipped config runs on the embedded simulator") {
  auto dir = make_temp_dir();
  auto r = run_cli({"datagen", "generate-names", "--config",
                    std::string{EVO_SOURCE_DIR} + "/configs/datagen.yaml",
                    "--out", dir + "/names"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(check_folder(dir + "/names/fim").size() > 10);
  CHECK(check_folder(dir + "/names/l2r").size() > 10);
  CHECK(r.err.find("embedded simulator listening on 127.0.0.1:")
        != std::string::npos);
}

TEST_CASE("the run says which HTTP client and how many I/O threads carry it") {
  auto sim = start_sim({});
  struct variant {
    std::string api_extra;
    std::string expected;
  };
  for (const auto& v : std::vector<variant>{
         {"", "HTTP client: own HTTP/1.1 client, 1 I/O thread"},
         {"  http_client: libcurl\n",
          "HTTP client: libcurl (api.http_client is libcurl), 2 I/O threads"}}) {
    auto dir = make_temp_dir();
    test_config c;
    c.base_url = sim.base_url();
    c.num_batches = 20;
    c.api_extra = v.api_extra;
    auto cfg = write_config(dir, c);
    auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                      "l2r"});
    INFO(v.expected << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find(v.expected) != std::string::npos);
    auto report = json::parse(read_file(dir + "/out/report.json"));
    CHECK(report["jobs"][0]["done"] == 20);
  }
}

TEST_CASE("report.json is not written through a symlink planted at its temp name") {
  auto dir = make_temp_dir();
  auto target = dir + "/target.txt";
  write_file(target, "the target's own content\n");
  ::mkdir((dir + "/out").c_str(), 0755);
  REQUIRE(::symlink(target.c_str(), (dir + "/out/report.json.tmp").c_str()) == 0);
  auto sim = start_sim();
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 2;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--out", dir + "/out"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/out/report.json.tmp") != std::string::npos);
  CHECK(r.err.find("symbolic link") != std::string::npos);
  CHECK(read_file(target) == "the target's own content\n");
  CHECK_FALSE(file_exists(dir + "/out/report.json"));
}

TEST_CASE("log lines and errors that echo a path or an argument escape its control characters") {
  auto dir = make_temp_dir();
  auto sim = start_sim();
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 2;
  c.n = 1;
  auto cfg = write_config(dir, c);
  // An output folder whose name holds an OSC title sequence (ESC ] ... BEL).
  auto out = dir + "/o\x1b]0;pwned\x07";
  auto args = std::vector<std::string>{"datagen", "generate-names", "--config", cfg,
                                       "--mode", "fim", "--out", out};
  REQUIRE(run_cli(args).exit_code == 0);
  auto again = run_cli(args); // "fim: N names already in <out>/fim"
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("already in " + dir + "/o\\x1b]0;pwned\\x07/fim") != std::string::npos);
  auto bad = run_cli({"datagen", "generate-names", "--config", cfg, "--mode",
                      "fim\x1b[2J\x9b"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("got \"fim\\x1b[2J") != std::string::npos);
  for (auto* r : {&again, &bad})
    for (char ch : {'\x1b', '\x07', '\x9b'})
      CHECK(r->err.find(ch) == std::string::npos);
}
