// The engine's own HTTP/1.1 client for plain http to IP literals: a
// non-blocking connection state machine (connect, send, receive) and the
// per-loop keep-alive connection pool.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <memory>
#include <string>
#include <vector>

#include "actors/request/http1_parser.hpp"
#include "actors/request/transport.hpp"
#include "messages/http_outcome.hpp"

namespace evo {

struct native_addr {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

struct native_conn;

/// The own client's part of an http_call.
struct native_call_state {
  // Set by prepare on the owner's thread, between transfers.
  std::string key;  ///< the connection pool's key, "host:port"
  std::vector<native_addr> addrs;
  std::string head; ///< request line and headers up to "Content-Length: "
  char length_line[32] = {};
  size_t length_len = 0;

  // The transfer: the I/O thread's only.
  enum class step : uint8_t { connecting, sending, receiving };
  step at = step::connecting;
  native_conn* conn = nullptr;
  bool conn_reused = false;
  std::chrono::steady_clock::time_point conn_opened; ///< when connect() ran
  bool rx_ready = false;    ///< readable seen while still sending
  bool peer_closed = false; ///< the peer's FIN (or an error) was signalled
  size_t addr_index = 0;
  int last_errno = 0;
  iovec iov[3] = {};
  int iov_first = 0;
  int iov_count = 0;
  http1_response_parser parser;
  std::chrono::steady_clock::time_point start, deadline, connect_deadline;
  size_t slot = 0; ///< index in the transport's active list
};

class http_call;

class native_transport final : public transport {
public:
  native_transport(int epfd, transfer_sink& sink);
  ~native_transport() override;
  native_transport(const native_transport&) = delete;
  native_transport& operator=(const native_transport&) = delete;

  /// Readies `call` for the own client when its URL changed; false when the
  /// URL is not one it can reach (see url::native_capable).
  static bool prepare_url(http_call& call);
  /// Readies the request bytes of `call` (its body set), between transfers.
  static void prepare_body(http_call& call);

  void start(std::shared_ptr<http_call> call) override;
  std::shared_ptr<http_call> cancel(http_call* call) override;
  std::optional<clock::time_point> fresh_since(const http_call& call) const override;
  void on_event(uint64_t tag, uint32_t events) override;
  clock::time_point next_deadline() const override { return next_; }
  void on_deadline(clock::time_point now) override;
  void stop() override;

private:
  native_conn* adopt_conn(int fd, const std::string& key);
  void close_conn(native_conn* c);
  native_conn* take_idle(const std::string& key);
  static void rewind(http_call* call);
  void begin_send(http_call* call);
  void connect_next(http_call* call);
  bool send_some(http_call* call);
  void recv_some(http_call* call);
  void io_failed(http_call* call, transport_error code, std::string error);
  void finish(http_call* call, transport_error code, std::string error,
              bool keep_conn);
  std::shared_ptr<http_call> release(http_call* call); ///< leaves active_

  int epfd_;
  transfer_sink& sink_;
  // Connections by fd (objects reused with the fd number), the idle pool,
  // and the transfers in flight (no allocation per request).
  std::vector<std::unique_ptr<native_conn>> conns_;
  std::vector<native_conn*> idle_;
  std::vector<std::shared_ptr<http_call>> active_;
  clock::time_point next_ = clock::time_point::max();
  uint32_t next_gen_ = 1;
  static constexpr size_t max_idle = 1024; // as CURLMOPT_MAXCONNECTS
  char rbuf_[64 * 1024];
};

} // namespace evo
