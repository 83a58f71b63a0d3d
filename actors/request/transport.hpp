// The interface between an I/O loop of the engine and one HTTP client
// (libcurl or the own HTTP/1.1 client): the loop hands transfers in, routes
// socket events and deadlines, and gets finished transfers back.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace evo {

class http_call;

/// Where a transport hands a finished transfer (its outcome filled in).
class transfer_sink {
public:
  virtual ~transfer_sink() = default;
  virtual void finished(std::shared_ptr<http_call> call) = 0;
};

/// One HTTP client as an I/O loop drives it. Every method runs on the
/// loop's thread.
class transport {
public:
  using clock = std::chrono::steady_clock;
  virtual ~transport() = default;

  /// Takes over a prepared transfer; it ends through the sink (possibly
  /// before this returns).
  virtual void start(std::shared_ptr<http_call> call) = 0;
  /// Takes a transfer off the wire before its end, closing its connection
  /// (a connection that carries a request cannot be used again), and hands
  /// it back without the sink; nullptr when it is not this transport's. The
  /// next start() of it is a further send, counted in outcome.sends.
  virtual std::shared_ptr<http_call> cancel(http_call* call) = 0;
  /// When the connection carrying the transfer's request was opened for it
  /// (connections open in this order on the server too); nullopt when it
  /// is a pooled one that answered before, or not known yet.
  virtual std::optional<clock::time_point> fresh_since(const http_call& call) const = 0;
  /// An epoll event on a socket this transport registered with `tag`.
  virtual void on_event(uint64_t tag, uint32_t events) = 0;
  /// The transport's next deadline; time_point::max() when none.
  virtual clock::time_point next_deadline() const = 0;
  /// The deadline passed: end what timed out, advance timers.
  virtual void on_deadline(clock::time_point now) = 0;
  /// End of a loop round: hand finished transfers to the sink.
  virtual void collect() {}
  /// The loop stops: drop every transfer and connection.
  virtual void stop() = 0;
};

} // namespace evo
