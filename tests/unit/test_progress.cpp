// Progress rows: the ETA from the rate so far, and the rendered line.
#include <doctest/doctest.h>

#include "actors/coordinator/progress.hpp"

using evo::progress_row;

TEST_CASE("ETA: items left over requests/s; names left over kept/s") {
  progress_row r;
  r.total = 100;
  r.finished = 40;
  r.requests_per_s = 10;
  CHECK(evo::eta_seconds(r) == doctest::Approx(6.0));
  r.requests_per_s = 0;
  CHECK(evo::eta_seconds(r) < 0); // unknown before the first answer
  r.finished = 100;
  CHECK(evo::eta_seconds(r) == 0);

  progress_row t;
  t.target_unique = 30;
  t.kept = 10;
  t.kept_per_s = 5;
  t.requests_per_s = 100; // not what a target job's ETA follows
  CHECK(evo::eta_seconds(t) == doctest::Approx(4.0));
  t.kept = 31;
  CHECK(evo::eta_seconds(t) == 0);
  t.kept = 10;
  t.done = true;
  CHECK(evo::eta_seconds(t) == 0);
}

TEST_CASE("a progress line shows counts, kept, dup, fail, retries, in flight, "
          "req/s and ETA") {
  progress_row r;
  r.name = "fim_hot";
  r.total = 20;
  r.finished = 12;
  r.kept = 80;
  r.duplicates = 3;
  r.failed = 1;
  r.retries = 2;
  r.in_flight = 4;
  r.requests_per_s = 4;
  auto line = evo::render_progress(r);
  CAPTURE(line);
  CHECK(line.rfind("fim_hot ", 0) == 0);
  CHECK(line.find("12/20 req") != std::string::npos);
  CHECK(line.find("kept 80 ") != std::string::npos);
  CHECK(line.find("dup 3 ") != std::string::npos);
  CHECK(line.find("fail 1 ") != std::string::npos);
  CHECK(line.find("retries 2 ") != std::string::npos);
  CHECK(line.find("inflight 4 ") != std::string::npos);
  CHECK(line.find("4.0 req/s") != std::string::npos);
  CHECK(line.find("ETA 2s") != std::string::npos);

  r.requests_per_s = 0.01; // 8 items at 0.01/s: 800 s
  CHECK(evo::render_progress(r).find("ETA 13m") != std::string::npos);
  r.requests_per_s = 0;
  CHECK(evo::render_progress(r).find("ETA ?") != std::string::npos);
  r.done = true;
  CHECK(evo::render_progress(r).find("done") != std::string::npos);

  progress_row t;
  t.name = "target";
  t.target_unique = 500;
  t.kept = 120;
  CHECK(evo::render_progress(t).find("120/500 names") != std::string::npos);
}

TEST_CASE("a progress line shows the token budget's use when there is one") {
  progress_row r;
  r.name = "l2r";
  r.total = 10;
  CHECK(evo::render_progress(r).find("TPM") == std::string::npos);
  r.tpm_used = 59872;
  r.tpm_budget = 60000;
  CHECK(evo::render_progress(r).find("  TPM 59872/60000") != std::string::npos);
}

TEST_CASE("a progress line shows the adaptive limit next to what is in flight") {
  progress_row r;
  r.name = "l2r";
  r.in_flight = 12;
  r.limit = 64;
  CHECK(evo::render_progress(r).find("inflight 12/64 ") != std::string::npos);
  r.limit = 0; // a fixed limit: the count alone
  auto line = evo::render_progress(r);
  CHECK(line.find("inflight 12 ") != std::string::npos);
  CHECK(line.find("12/") == std::string::npos);
}

TEST_CASE("a progress line ends with each node's in flight and limit") {
  progress_row r;
  r.name = "l2r";
  r.in_flight = 30;
  r.limit = 40;
  r.tpm_budget = 1000;
  r.nodes = "127.0.0.1:7001 10/12 127.0.0.1:7002 20/28";
  auto line = evo::render_progress(r);
  CHECK(line.find("TPM 0/1000  nodes 127.0.0.1:7001 10/12 127.0.0.1:7002 20/28")
        != std::string::npos);
  r.nodes.clear(); // one node: nothing more than its limit
  CHECK(evo::render_progress(r).find("nodes") == std::string::npos);
}
