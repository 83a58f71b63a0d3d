// evoselfcode-sim: run the OpenAI-compatible simulator as a process.
// First stdout line: "listening on HOST:PORT". Runs until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <sstream>

#include "tools/sim/batch_model.hpp"
#include "tools/sim/sim_server.hpp"

int main(int argc, char** argv) {
  evo::sim::sim_options o;
  std::string faults;
  CLI::App app{"evoselfcode-sim: OpenAI-compatible completion server simulator"};
  app.add_option("--host", o.host, "address to bind")->capture_default_str();
  app.add_option("--port", o.port, "port (0 = pick a free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--latency-ms", o.latency_ms, "base latency per request")->check(CLI::NonNegativeNumber);
  app.add_option("--jitter-ms", o.jitter_ms, "uniform extra latency in [0, jitter)")->check(CLI::NonNegativeNumber);
  app.add_option("--per-token-ms", o.per_token_ms, "latency per completion token")->check(CLI::NonNegativeNumber);
  app.add_option("--max-concurrency", o.max_concurrency, "requests processed at once (0 = unlimited)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate-limit", o.rate_limit, "requests/s above which 429 (0 = off)")->check(CLI::NonNegativeNumber);
  app.add_option("--fault-rate", o.fault_rate, "probability of a fault per request")->check(CLI::Range(0.0, 1.0));
  app.add_option("--faults", faults, "comma-separated of 429,500,503,hang,reset,malformed,truncated (default all)");
  app.add_option("--seed", o.seed, "RNG seed");
  app.add_option("--log-requests", o.log_requests, "append one JSON line per request to this file");
  app.add_option("--vocabulary", o.vocabulary, "0 = word lists; N = uniform over N distinct names")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--text-variants", o.text_variants,
                 "N > 0: choices are N problem descriptions, each with a random last word (near duplicates)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--model", o.model, "model name reported by /v1/models")->capture_default_str();
  app.add_option("--http-threads", o.http_threads,
                 "N fixed HTTP threads, each staying with its connection (llama.cpp's layer); 0 = 256")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--http-dynamic-threads", o.http_dynamic_threads,
                 "with --http-threads: up to M temporary threads for queued connections (newer cpp-httplib)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--keepalive-timeout-s", o.keepalive_timeout_s, "close a connection idle this long")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--keepalive-max-requests", o.keepalive_max_requests,
                 "requests per connection (0 = 100 with --http-threads, unlimited without)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-n", o.max_n, "answer n > K with llama.cpp's HTTP 400 (0 = off)")->check(CLI::NonNegativeNumber);
  app.add_option("--cap-n", o.cap_n, "answer at most K choices, quietly (0 = off)")->check(CLI::NonNegativeNumber);
  app.add_option("--require-key", o.require_key, "answer 401 unless 'Authorization: Bearer KEY'");
  app.add_flag("--strict-model", o.strict_model, "answer 404 (vLLM's) for a model other than --model");
  app.add_flag("--no-suffix", o.no_suffix, "answer 400 (vLLM's) to a completion with a suffix field");
  app.add_flag("--batch-model", o.batch_model, "continuous-batching server model (see README)");
  app.add_option("--step-base-ms", o.step_base_ms, "batch model: decode step time with no sequence")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--step-per-seq-ms", o.step_per_seq_ms, "batch model: step time added per active sequence")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--prefill-per-token-ms", o.prefill_per_token_ms, "batch model: prefill time per prompt token")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--kv-capacity", o.kv_capacity, "batch model: sequences decoded at once; others queue")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--overload-queue", o.overload_queue, "batch model: refuse beyond this many queued (0 = never)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--overload-status", o.overload_status, "batch model: 503 or 429 (with Retry-After)")
      ->capture_default_str()->check(CLI::IsMember({503, 429}));
  app.add_option("--capacity-schedule", o.capacity_schedule,
                 "batch model: SECONDS:CAPACITY,... e.g. 0:64,30:16,60:64 (replaces --kv-capacity)");
  app.add_option("--schedule-from-load", o.schedule_from_load,
                 "batch model: the schedule's second 0 is when the engine first holds this many sequences")
      ->check(CLI::PositiveNumber);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "log to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  o.quiet = !verbose;
  if (!faults.empty()) {
    std::stringstream ss(faults);
    std::string f;
    while (std::getline(ss, f, ',')) {
      if (f.empty()) continue;
      bool known = false;
      for (const auto& k : evo::sim::all_fault_kinds()) known = known || k == f;
      if (!known) {
        std::cerr << "--faults: unknown fault kind '" << f << "' (expected 429,500,503,hang,reset,malformed,truncated)\n";
        return 2;
      }
      o.faults.push_back(f);
    }
  }

  if (!o.capacity_schedule.empty()) {
    evo::sim::capacity_schedule sched;
    std::string err;
    if (!evo::sim::parse_capacity_schedule(o.capacity_schedule, sched, &err)) {
      std::cerr << "--capacity-schedule: " << err << "\n";
      return 2;
    }
  }
  if (app.count("--schedule-from-load") > 0 && o.capacity_schedule.empty()) {
    std::cerr << "--schedule-from-load needs --capacity-schedule\n";
    return 2;
  }
  if (!o.batch_model) {
    for (const char* flag : {"--step-base-ms", "--step-per-seq-ms", "--prefill-per-token-ms", "--kv-capacity",
                             "--overload-queue", "--overload-status", "--capacity-schedule",
                             "--schedule-from-load"})
      if (app.count(flag) > 0) {
        std::cerr << flag << " needs --batch-model\n";
        return 2;
      }
  }

  // Block the termination signals in every thread (the server's threads
  // inherit the mask) and wait for them synchronously here.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  evo::sim::sim_server server(o);
  int port = 0;
  try {
    port = server.start();
  } catch (const std::exception& e) {
    std::cerr << "evoselfcode-sim: " << e.what() << "\n";
    return 1;
  }
  std::printf("listening on %s:%d\n", o.host.c_str(), port);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  if (verbose) std::fprintf(stderr, "evoselfcode-sim: signal %d, stopping\n", sig);
  server.stop();
  return 0;
}
