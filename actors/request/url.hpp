// The one place that reads server URLs: parsing, "/v1" normalisation of a
// base URL, which client may carry it, and redaction of user information for
// messages. No CAF, no I/O; used by config loading, the engine, the worker
// node and the cluster link.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evo::url {

/// The parts of an http:// or https:// URL.
struct parts {
  bool https = false;
  std::string userinfo;  ///< raw, as written (percent-escapes kept); secret
  std::string host;      ///< IPv6 without brackets
  bool ipv6 = false;     ///< the host was written as [v6 literal]
  uint16_t port = 0;     ///< as written, else 80 / 443
  std::string authority; ///< host[:port] as written, without userinfo
  std::string target;    ///< path and query, fragment dropped; "/" when empty
};

/// Parses an absolute http(s) URL; nullopt (and `why`) when it is not one.
std::optional<parts> parse(std::string_view url, std::string* why = nullptr);

/// A base URL as the run uses it: ends with a "/v1" path segment (appended
/// when missing), no trailing '/', no query or fragment. "embedded" stays
/// as it is. nullopt when `url` is not an http:// or https:// URL.
std::optional<std::string> normalise_base(std::string_view url);

/// `url` with any user information replaced by "***" ("http://***@h/v1"),
/// safe for logs, errors and messages to other nodes. Cuts at the last '@'
/// before any query or fragment, so a password holding '@', ':' or '/' is
/// hidden whole (a path holding '@' is over-redacted, which is harmless).
std::string redact(std::string_view url);

/// The user name and password of `url`, percent-decoded, for scrubbing
/// them from server text (empty fields when none).
struct credentials {
  std::string user, password;
};
credentials userinfo_of(std::string_view url);

/// Whether `host` (as in parts::host) is the local machine: 127.0.0.0/8,
/// ::1 or "localhost" (any case).
bool is_loopback_host(std::string_view host);

/// Whether the engine's own HTTP/1.1 client can go to `url`: plain http://
/// to an IP literal or localhost, no user information. With
/// `loopback_only` (what api.http_client: auto asks) the host must also be
/// loopback. When not, `why` says what stands in the way.
bool native_capable(std::string_view url, bool loopback_only,
                    std::string* why = nullptr);

/// Splits "host:port" ("[v6]:port" too) of a node address; false when the
/// port is missing or not 1..65535.
bool split_host_port(const std::string& hp, std::string& host, uint16_t& port);

} // namespace evo::url
