// The libcurl transport: one multi handle per I/O loop driven through
// curl_multi_socket_action, and each call's reusable easy handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

#include "actors/request/transport.hpp"

typedef void CURL;
typedef void CURLM;
struct curl_slist;

namespace evo {

/// libcurl's part of an http_call: its easy handle (kept across transfers,
/// so keep-alive connections and buffers are reused).
struct curl_call_state {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  uint32_t sends = 0; ///< requests put on the wire for this transfer
  /// When libcurl opened a connection for this transfer (none: pooled).
  std::optional<std::chrono::steady_clock::time_point> opened;
  char error_buf[256] = {};
  ~curl_call_state();
};

/// Whether http_proxy / all_proxy is set (read once): the own client does
/// not speak to proxies, so then libcurl carries plain http too.
bool http_proxy_configured();

class curl_transport final : public transport {
public:
  curl_transport(int epfd, transfer_sink& sink);
  ~curl_transport() override;
  curl_transport(const curl_transport&) = delete;
  curl_transport& operator=(const curl_transport&) = delete;

  /// Readies `call` (url and body set) for libcurl, between transfers.
  static void prepare(http_call& call, bool url_changed);

  /// libcurl is about to put the call's request on the wire.
  static void count_send(http_call& call);
  /// libcurl opens a connection for the call's transfer.
  static void stamp_open(http_call& call);

  void start(std::shared_ptr<http_call> call) override;
  std::shared_ptr<http_call> cancel(http_call* call) override;
  std::optional<clock::time_point> fresh_since(const http_call& call) const override;
  void on_event(uint64_t tag, uint32_t events) override;
  clock::time_point next_deadline() const override;
  void on_deadline(clock::time_point now) override;
  void collect() override;
  void stop() override;

private:
  static int on_socket(CURL*, int s, int what, void* userp, void* socketp);
  static int on_timer(CURLM*, long timeout_ms, void* userp);

  int epfd_;
  transfer_sink& sink_;
  CURLM* multi_ = nullptr;
  std::unordered_map<http_call*, std::shared_ptr<http_call>> active_;
  long timeout_ms_ = -1;
  clock::time_point deadline_;
  int running_ = 0;
};

} // namespace evo
