// Progress as a user sees it: a live status block on a terminal (run under
// script(1) for a pseudo-terminal), log lines every 2 s in a pipe, nothing
// with --quiet.
#include <doctest/doctest.h>

#include <csignal>
#include <regex>

#include "tests/integration/cli_harness.hpp"

using namespace evo::test;

namespace {

// 40 requests per mode over a pool of 2 at 120 ms: ~5 s, long enough for
// two 2 s log lines.
std::string slow_config(const std::string& dir, const running_sim& sim) {
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 40;
  c.pool = 2;
  return write_config(dir, c);
}

size_t count(const std::string& text, const std::regex& re) {
  return static_cast<size_t>(std::distance(
    std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

const std::regex progress_line{
  R"((fim|l2r) +\d+/40 req +kept \d+ +dup \d+ +fail 0 +retries 0 +inflight \d+ +[0-9.]+ req/s +(ETA \d+s|ETA \?|done))"};

} // namespace

TEST_CASE("progress in a pipe: a log line per job every 2 s, no terminal "
          "codes") {
  auto sim = start_sim({"--latency-ms", "120"});
  auto dir = make_temp_dir();
  auto cfg = slow_config(dir, sim);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("\x1b[") == std::string::npos);
  // At least two rounds of lines (one per job each), ETAs among them.
  CHECK(count(r.err, progress_line) >= 4);
  CHECK(count(r.err, std::regex{R"(req/s +ETA \d+s)"}) >= 2);
  CHECK(r.err.find("fim: finished: 40 requests") != std::string::npos);
  CHECK(r.err.find("l2r: finished: 40 requests") != std::string::npos);
}

TEST_CASE("progress on a terminal: a status block redrawn in place, ending "
          "done") {
  auto sim = start_sim({"--latency-ms", "120"});
  auto dir = make_temp_dir();
  auto cfg = slow_config(dir, sim);
  // script(1) gives the run a pseudo-terminal as stdin/stdout/stderr and
  // copies what it shows to our pipe.
  auto cmd = std::string{EVO_BINARY_DIR} + "/evoselfcode datagen "
             "generate-names --config " + cfg;
  child_process proc{{"script", "-qfec", cmd, "/dev/null"}};
  auto code = proc.wait(std::chrono::seconds(120));
  if (!code)
    proc.signal(SIGKILL);
  auto shown = proc.drain_stdout();
  INFO(shown);
  REQUIRE(code == 0);
  // Each redraw clears its lines (ESC[2K) and moves back up (ESC[2F) over
  // the two job lines; the 500 ms interval gives several redraws.
  CHECK(count(shown, std::regex{"\x1b\\[2K"}) >= 6);
  CHECK(count(shown, std::regex{"\x1b\\[2F"}) >= 2);
  CHECK(count(shown, progress_line) >= 6);
  CHECK(shown.find("40/40 req") != std::string::npos);
  CHECK(count(shown, std::regex{R"(req/s +done)"}) >= 2);
  // The 2 s log lines are for pipes only.
  CHECK(shown.find("finished: 40 requests") == std::string::npos);
}

TEST_CASE("--quiet: no progress at all") {
  auto sim = start_sim({"--latency-ms", "120"});
  auto dir = make_temp_dir();
  auto cfg = slow_config(dir, sim);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(count(r.err, progress_line) == 0);
  CHECK(r.err.find("req/s") == std::string::npos);
  CHECK(r.err.find("\x1b[") == std::string::npos);
  CHECK(r.out.find("fim") != std::string::npos); // the table still comes
}
