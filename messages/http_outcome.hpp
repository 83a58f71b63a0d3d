// What one HTTP transfer produced, as the engine's I/O thread hands it to the
// request actor (inside the http_done message). Plain struct, no CAF.
#pragma once

#include <cstdint>
#include <string>

namespace evo {

/// How a transfer failed at the transport level, whichever client carried
/// it; classify_outcome maps these to failure kinds.
enum class transport_error : uint8_t {
  none,       ///< a whole response was received
  timeout,    ///< no whole response within the timeout
  connect,    ///< could not resolve or connect
  send,       ///< the connection failed while sending
  recv,       ///< the connection failed while receiving
  no_reply,   ///< the connection closed before any answer byte
  truncated,  ///< the body ended before its framing said
  bad_reply,  ///< not a readable HTTP response
  too_large,  ///< the body passed api.max_response_bytes
  other,      ///< anything else (TLS, setup)
  certificate, ///< the server's certificate failed verification
};

inline const char* to_string(transport_error e) {
  switch (e) {
    case transport_error::none: return "none";
    case transport_error::timeout: return "timeout";
    case transport_error::connect: return "connect";
    case transport_error::send: return "send";
    case transport_error::recv: return "recv";
    case transport_error::no_reply: return "no_reply";
    case transport_error::truncated: return "truncated";
    case transport_error::bad_reply: return "bad_reply";
    case transport_error::too_large: return "too_large";
    case transport_error::other: return "other";
    case transport_error::certificate: return "certificate";
  }
  return "unknown";
}

struct http_outcome {
  transport_error error = transport_error::none;
  long status = 0; ///< HTTP status, 0 if none
  int32_t retry_after_ms = -1;
  std::string body;
  std::string error_text; ///< what failed, when error != none
  uint32_t latency_us = 0;
  /// Requests put on the wire for this transfer. A client re-sends once by
  /// itself when a pooled connection dies before any answer byte; the
  /// server may have read the first one, so each send counts as an attempt.
  uint32_t sends = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_outcome& x) {
  return f(x.error, x.status, x.retry_after_ms, x.body, x.error_text,
           x.latency_us, x.sends);
}

} // namespace evo
