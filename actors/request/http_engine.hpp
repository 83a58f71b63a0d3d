// HTTP without a thread per request: a few I/O threads (two by default) each
// run an epoll loop that drives a libcurl multi handle
// (curl_multi_socket_action) and the engine's own HTTP/1.1 client for plain
// http:// (see http_options::client). A call sticks to the thread it first
// ran on, so its keep-alive connection stays in that thread's pool. Request actors own an
// http_call each (one reusable easy handle, so keep-alive connections and
// buffers are reused) and lend it to the engine for one transfer; the engine
// calls on_done from the I/O thread when the transfer ends. No CAF.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "messages/settings.hpp"

typedef void CURL;
struct curl_slist;

namespace evo {

struct http_options {
  std::chrono::milliseconds timeout{60000};
  std::string ca_file;            ///< extra CA bundle; empty = system default
  bool insecure_skip_verify = false;
  std::vector<std::string> headers; ///< "Name: value" lines, e.g. auth
  http_client_kind client = http_client_kind::automatic;
};

/// Whether the engine's own client can carry requests to `url`: plain
/// http:// to an IP address or localhost, no userinfo, and no http_proxy /
/// all_proxy in the environment. When not, `why` says what stands in the way.
bool native_http_eligible(const std::string& url, std::string* why = nullptr);

/// What one transfer produced. Filled by the engine's I/O thread; read by
/// the owner after on_done fired.
struct http_outcome {
  /// CURLcode; 0 = a response was received. The own client reports its
  /// failures with the same codes, so both classify alike.
  int curl_code = 0;
  long status = 0;          ///< HTTP status, 0 if none
  int32_t retry_after_ms = -1;
  std::string body;
  std::string error;        ///< what failed, when curl_code != 0
  uint32_t latency_us = 0;
  /// Requests put on the wire for this transfer. Both clients re-send once
  /// by themselves when a pooled connection dies before any answer byte; the
  /// server may have read the first one, so each send counts as an attempt.
  uint32_t sends = 1;
};

class http_call {
public:
  explicit http_call(const http_options& opts);
  ~http_call();
  http_call(const http_call&) = delete;
  http_call& operator=(const http_call&) = delete;

  /// Sets up a POST of `body` (moved in, kept alive for the transfer) to
  /// `url` and clears the previous outcome.
  void prepare_post(const std::string& url, std::string body);

  /// Called once per transfer, on the engine's I/O thread.
  std::function<void()> on_done;

  /// Whether the last prepare_post chose the engine's own client.
  bool uses_native() const { return use_native_; }

  const http_outcome& outcome() const { return outcome_; }
  http_outcome& outcome() { return outcome_; }

private:
  friend class http_engine;
  struct native_state; ///< the own client's per-call state (http_engine.cpp)
  int loop_ = -1; ///< the engine's I/O thread this call sticks to
  http_client_kind client_;
  std::chrono::milliseconds timeout_;
  std::string header_lines_; ///< "Name: value\r\n" of every fixed header
  std::unique_ptr<native_state> native_;
  bool use_native_ = false;
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  static size_t on_header(char* data, size_t size, size_t n, void* self);

  CURL* easy_;
  curl_slist* headers_ = nullptr;
  std::string url_;
  std::string request_body_;
  long single_request_size_ = 0; ///< bytes of one send: the least seen
  http_outcome outcome_;
  char error_buf_[256];
};

class http_engine {
public:
  /// One libcurl loop uses one core at most (~60 k requests/s against a
  /// local nginx); two keep up with a fast server on a small machine.
  static constexpr size_t default_io_threads = 2;

  explicit http_engine(size_t io_threads = default_io_threads);
  ~http_engine(); ///< stops the I/O threads; unfinished transfers are dropped
  http_engine(const http_engine&) = delete;
  http_engine& operator=(const http_engine&) = delete;

  /// Starts the transfer; thread-safe. The engine keeps `call` alive until
  /// on_done has run (or the engine is destroyed).
  void submit(std::shared_ptr<http_call> call);

  /// Transfers currently in flight (for tests and progress).
  size_t in_flight() const { return in_flight_.load(); }

  size_t io_threads() const { return loops_.size(); }

private:
  struct loop;
  std::vector<std::unique_ptr<loop>> loops_;
  std::atomic<size_t> next_loop_{0};
  std::atomic<size_t> in_flight_{0};
};

} // namespace evo
