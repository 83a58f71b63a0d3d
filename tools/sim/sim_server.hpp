// evoselfcode-sim: an OpenAI-compatible completion server simulator.
//
// A real HTTP server (cpp-httplib) speaking /v1/completions,
// /v1/chat/completions, /v1/models and /health, producing plausible algorithm
// function names, with injectable latency, concurrency limit, rate limit and
// faults, and optional models of real servers: a fixed HTTP thread pool
// (llama.cpp's layer), llama.cpp's cap on n, a continuous-batching engine.
// Embedded by the app (`base_url: embedded`) and used by the tests and
// benchmarks. See tools/sim/README.md for the behaviour in detail.
//
// Note: start() sets SIGPIPE to SIG_IGN if it is at its default disposition
// (cpp-httplib writes to sockets without MSG_NOSIGNAL; a client hanging up
// mid-response would otherwise kill the process).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace evo::sim {

struct sim_options {
  std::string host = "127.0.0.1";
  int port = 0;                     // 0 = pick a free port
  double latency_ms = 0, jitter_ms = 0, per_token_ms = 0;
  int max_concurrency = 0;          // 0 = unlimited; others queue
  double rate_limit = 0;            // req/s above which 429 + Retry-After; 0 = off
  double fault_rate = 0;            // probability per request
  std::vector<std::string> faults;  // of 429,500,503,hang,reset,malformed,truncated; empty = all
  uint64_t seed = 0;
  std::string log_requests;         // file to append one JSON line per request; empty = none
  int vocabulary = 0;               // 0 = default word lists; N>0 = a name space of N distinct names (for 1M-name memory benchmarks)
  int text_variants = 0;            // N>0: every choice is one of N problem descriptions, its last word random
  std::string model = "sim-coder";
  bool quiet = true;
  // HTTP layer. 0 threads: a pool of 256 (1024 with batch_model), a thread
  // per connection for any client this project runs. N > 0: N fixed threads, each staying with its
  // connection while requests keep coming on it, other connections waiting
  // unread, as llama.cpp's cpp-httplib layer serves.
  int http_threads = 0;
  int http_dynamic_threads = 0;     // with http_threads: temporary threads for queued connections (model of newer cpp-httplib)
  int keepalive_timeout_s = 5;      // an idle connection is closed after this
  int keepalive_max_requests = 0;   // requests per connection; 0 = 100 with http_threads, unlimited without
  int max_n = 0;                    // n > max_n answers 400 as llama.cpp does; 0 = only n <= 1024
  // Models of other real servers' limits and refusals:
  int cap_n = 0;                    // answer at most cap_n choices, quietly (0 = off)
  std::string require_key;          // non-empty: 401 unless "Authorization: Bearer <key>"
  bool strict_model = false;        // a request for another model than `model`: vLLM's 404
  bool no_suffix = false;           // a completion with "suffix": vLLM's 400
  // Continuous-batching model (tools/sim/batch_model.hpp), off by default:
  // a request takes its completion tokens x (step_base_ms + step_per_seq_ms
  // x active sequences); at most kv_capacity sequences (or the schedule's)
  // are active, others queue; beyond overload_queue queued requests the
  // answer is overload_status (503 or 429) with Retry-After.
  bool batch_model = false;
  double step_base_ms = 10, step_per_seq_ms = 0.25, prefill_per_token_ms = 0;
  int kv_capacity = 64;
  int overload_queue = 0;           // 0 = the queue is unbounded
  int overload_status = 503;
  std::string capacity_schedule;    // "0:64,30:16,60:64" (seconds since start: capacity); empty = kv_capacity
  int schedule_from_load = 0;       // > 0: the schedule starts when the engine first holds this many sequences
};

class sim_server {
 public:
  explicit sim_server(sim_options opts);
  ~sim_server();                    // stops
  sim_server(const sim_server&) = delete;
  sim_server& operator=(const sim_server&) = delete;

  int start();                      // binds, serves on background threads, returns the bound port; throws std::runtime_error on failure
  void stop();                      // idempotent; unblocks hung requests
  int port() const;
  const sim_options& options() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// The fault kinds, in the order the options/flags spell them.
const std::vector<std::string>& all_fault_kinds();

}  // namespace evo::sim
