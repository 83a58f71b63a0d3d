// An incremental HTTP/1.x response parser for the engine's own plain-http
// transport: status line, the headers the pipeline needs (framing,
// keep-alive, Retry-After), and the body in any of its three framings
// (Content-Length, chunked, until close). Bytes go in as they arrive; the
// body is appended to a caller-owned string so its capacity is reused. No
// I/O, no CAF, no allocation once warm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace evo {

/// Retry-After is either delta-seconds or an HTTP date; milliseconds to
/// wait (capped at one day), or -1 when absent or unreadable.
int32_t parse_retry_after(std::string value);

class http1_response_parser {
public:
  enum class state : uint8_t { headers, body, done, error };

  /// Header section larger than this is refused (a server gone wrong).
  static constexpr size_t max_header_bytes = 64 * 1024;
  /// Bodies larger than this are refused unless set_max_body says otherwise
  /// (the engine sets api.max_response_bytes).
  static constexpr size_t default_max_body_bytes = 256u * 1024 * 1024;

  /// The body limit; a larger body fails the response (too_large()).
  void set_max_body(uint64_t bytes) { max_body_ = bytes; }

  /// Ready for the next response; keeps buffer capacity.
  void reset();

  /// Consumes bytes of the response; body bytes are appended to `body`.
  /// Returns how many bytes were consumed: less than `len` only once the
  /// response is done (the rest belongs to nothing: the connection must not
  /// be reused) or on error.
  size_t feed(const char* data, size_t len, std::string& body);

  /// The peer closed the connection. Completes a body framed by the close;
  /// any other unfinished response becomes an error.
  void on_eof();

  state current() const { return state_; }
  bool done() const { return state_ == state::done; }
  bool failed() const { return state_ == state::error; }
  /// Bytes of the response seen so far (status line onwards).
  size_t bytes_seen() const { return seen_; }

  int status() const { return status_; }
  int32_t retry_after_ms() const { return retry_after_ms_; }
  /// Whether the connection may carry another request after this response.
  bool keep_alive() const { return keep_alive_; }
  /// What went wrong, for the outcome's error text.
  const std::string& error() const { return error_; }
  /// True when the error is the body ending early (the peer closed before
  /// Content-Length bytes or the last chunk), as opposed to a malformed
  /// response.
  bool truncated() const { return truncated_; }
  /// True when the error is the body passing the limit.
  bool too_large() const { return too_large_; }

private:
  enum class framing : uint8_t { length, chunked, until_close, none };
  enum class chunk_step : uint8_t { size_line, data, data_crlf, trailers };

  size_t feed_headers(const char* data, size_t len);
  bool parse_head(); // status line + headers in head_; false on error
  size_t feed_body(const char* data, size_t len, std::string& body);
  size_t feed_chunked(const char* data, size_t len, std::string& body);
  bool append_body(const char* data, size_t n, std::string& body);
  void fail(const char* what);
  void fail_too_large();

  state state_ = state::headers;
  framing framing_ = framing::none;
  chunk_step chunk_ = chunk_step::size_line;
  int status_ = 0;
  int32_t retry_after_ms_ = -1;
  bool keep_alive_ = true;
  bool truncated_ = false;
  bool too_large_ = false;
  uint64_t max_body_ = default_max_body_bytes;
  uint64_t remaining_ = 0; ///< Content-Length left, or bytes left of a chunk
  size_t seen_ = 0;
  size_t body_bytes_ = 0;
  size_t trailer_bytes_ = 0; ///< all trailer lines together, capped too
  std::string head_; ///< header section being collected; chunk lines too
  std::string error_;
};

} // namespace evo
