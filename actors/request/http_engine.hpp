// HTTP without a thread per request: a few I/O threads each run an epoll
// loop that drives two transports, libcurl (curl_transport) and the own
// HTTP/1.1 client for loopback plain http (native_transport). A call sticks
// to the thread it first ran on, so its keep-alive connection stays in that
// thread's pool. Each loop caps the requests on the wire per host at what
// the server is seen to serve (host_gate) and moves stuck requests to served
// connections. Request actors own an http_call each and lend it to the
// engine for one transfer; the engine calls on_done from the I/O thread when
// the transfer ends. No CAF.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "messages/http_outcome.hpp"
#include "messages/settings.hpp"

namespace evo {

struct http_options {
  std::chrono::milliseconds timeout{60000};
  std::string ca_file;            ///< extra CA bundle; empty = system default
  bool insecure_skip_verify = false;
  std::vector<std::string> headers; ///< "Name: value" lines, e.g. auth
  http_client_kind client = http_client_kind::automatic;
  /// A larger body fails the transfer (transport_error::too_large).
  uint64_t max_response_bytes = 8u << 20;
};

/// Whether the engine's own client carries requests to `url` when asked for
/// `client`: never for libcurl; for automatic only plain http:// to a
/// loopback address or localhost; for native any plain http:// to an IP
/// literal or localhost. Never with user information or with http_proxy /
/// all_proxy in the environment. When not, `why` says what stands in the way.
bool native_http_eligible(const std::string& url, http_client_kind client,
                          std::string* why = nullptr);

class host_gate;          // host_gate.hpp
struct curl_call_state;   // curl_transport.hpp
struct native_call_state; // native_transport.hpp

class http_call {
public:
  explicit http_call(const http_options& opts);
  ~http_call();
  http_call(const http_call&) = delete;
  http_call& operator=(const http_call&) = delete;

  /// Sets up a POST of `body` (moved in, kept alive for the transfer) to
  /// `url` and clears the previous outcome.
  void prepare_post(const std::string& url, std::string body);

  /// Called once per transfer, on the engine's I/O thread. The outcome is
  /// the I/O thread's until then; on_done may move it out.
  std::function<void()> on_done;

  /// Whether the last prepare_post chose the engine's own client.
  bool uses_native() const { return use_native_; }

  const http_outcome& outcome() const { return outcome_; }
  http_outcome& outcome() { return outcome_; }

  const http_options& options() const { return opts_; }
  const std::string& url() const { return url_; }
  const std::string& request_body() const { return request_body_; }
  /// Scheme, host and port of url(): the unit the engine caps per server.
  const std::string& host_key() const { return host_key_; }

private:
  friend class http_engine;
  friend class curl_transport;
  friend class native_transport;
  http_options opts_;
  int loop_ = -1; ///< the engine's I/O thread this call sticks to
  bool handed_over_ = false; ///< just moved to loop_ by another loop
  bool use_native_ = false;
  std::string url_;
  std::string host_key_;
  std::string request_body_;
  http_outcome outcome_;
  std::unique_ptr<curl_call_state> curl_;     ///< libcurl's per-call state
  std::unique_ptr<native_call_state> native_; ///< the own client's
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
  /// Queues `call` on its loop (call->loop_) and wakes that loop.
  void enqueue(std::shared_ptr<http_call> call);
  std::vector<std::unique_ptr<loop>> loops_;
  // One gate for all loops: a server's threads serve them all.
  std::mutex gate_mtx_;
  std::unique_ptr<host_gate> gate_;
  std::atomic<size_t> next_loop_{0};
  std::atomic<size_t> in_flight_{0};
};

} // namespace evo
