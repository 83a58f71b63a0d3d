// Parsing, normalisation, client eligibility and redaction of server URLs.
#include "actors/request/url.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <cctype>
#include <cstdlib>
#include <cstring>

namespace evo::url {

namespace {

bool has_prefix_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size()
         && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// Offset of the authority (after "scheme://"), or npos.
size_t authority_begin(std::string_view url) {
  auto p = url.find("://");
  return p == std::string_view::npos ? p : p + 3;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

} // namespace

std::optional<parts> parse(std::string_view url, std::string* why) {
  auto refuse = [why](const char* reason) -> std::optional<parts> {
    if (why != nullptr)
      *why = reason;
    return std::nullopt;
  };
  parts out;
  size_t begin;
  if (has_prefix_nocase(url, "http://")) {
    begin = 7;
  } else if (has_prefix_nocase(url, "https://")) {
    out.https = true;
    begin = 8;
  } else {
    return refuse("not an http:// or https:// URL");
  }
  auto rest = url.substr(begin);
  auto auth_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, auth_end);
  auto target = auth_end == std::string_view::npos ? std::string_view{}
                                                   : rest.substr(auth_end);
  if (auto hash = target.find('#'); hash != std::string_view::npos)
    target = target.substr(0, hash);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = std::string{authority.substr(0, at)};
    authority = authority.substr(at + 1);
  }
  std::string_view host, port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return refuse("malformed IPv6 address");
    host = authority.substr(1, close - 1);
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return refuse("malformed IPv6 address");
    out.ipv6 = true;
    auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return refuse("malformed authority");
    if (after.size() == 1)
      return refuse("invalid port");
    if (!after.empty())
      port_text = after.substr(1);
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty())
        return refuse("invalid port");
    }
  }
  if (host.empty())
    return refuse("no host");
  if (host.find_first_of("<>\"{}|\\^`[] ") != std::string_view::npos)
    return refuse("invalid character in host");
  unsigned port = out.https ? 443 : 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5)
      return refuse("invalid port");
    port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9')
        return refuse("invalid port");
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535)
      return refuse("invalid port");
  }
  out.host = std::string{host};
  out.port = static_cast<uint16_t>(port);
  out.authority = std::string{authority};
  out.target = target.empty() || target.front() != '/'
                 ? "/" + std::string{target}
                 : std::string{target};
  return out;
}

std::optional<std::string> normalise_base(std::string_view url) {
  if (url == "embedded")
    return std::string{url};
  size_t host_begin = 0;
  if (has_prefix_nocase(url, "http://"))
    host_begin = 7;
  else if (has_prefix_nocase(url, "https://"))
    host_begin = 8;
  else
    return std::nullopt;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return std::nullopt;
  size_t host_end = url.find_first_of("/?#", host_begin);
  if (host_end == host_begin)
    return std::nullopt;
  if (url.find_first_of("?#") != std::string_view::npos)
    return std::nullopt; // a query or fragment has no place in a base URL
  if (!parse(url))
    return std::nullopt; // host, port or IPv6 brackets malformed
  std::string out{url};
  while (out.size() > host_begin && out.back() == '/')
    out.pop_back();
  if (out.size() <= host_begin)
    return std::nullopt;
  // "/v1" must be a path segment after the host ("http://v1" has no path).
  const size_t path_begin = out.find('/', host_begin);
  const bool ends_v1 = path_begin != std::string::npos
                       && out.size() - 3 >= path_begin
                       && out.compare(out.size() - 3, 3, "/v1") == 0;
  if (!ends_v1)
    out += "/v1";
  return out;
}

std::string redact(std::string_view url) {
  auto begin = authority_begin(url);
  if (begin == std::string_view::npos)
    return std::string{url};
  auto end = url.find_first_of("?#", begin);
  auto at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < begin)
    return std::string{url};
  return std::string{url.substr(0, begin)} + "***" + std::string{url.substr(at)};
}

credentials userinfo_of(std::string_view url) {
  credentials out;
  auto begin = authority_begin(url);
  if (begin == std::string_view::npos)
    return out;
  auto end = url.find_first_of("?#", begin);
  auto at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < begin)
    return out;
  auto info = url.substr(begin, at - begin);
  auto colon = info.find(':');
  out.user = percent_decode(info.substr(0, colon));
  if (colon != std::string_view::npos)
    out.password = percent_decode(info.substr(colon + 1));
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host.size() == 9 && strncasecmp(host.data(), "localhost", 9) == 0)
    return true;
  std::string text{host};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool native_capable(std::string_view url, bool loopback_only,
                    std::string* why) {
  auto refuse = [why](const char* reason) {
    if (why != nullptr)
      *why = reason;
    return false;
  };
  auto p = parse(url, why);
  if (!p)
    return false;
  if (p->https)
    return refuse("not a plain http:// URL");
  if (!p->userinfo.empty() || url.substr(0, url.find_first_of("?#")).find('@')
                                != std::string_view::npos)
    return refuse("the URL carries user information");
  std::string host = p->host;
  in6_addr any{};
  bool literal = strcasecmp(host.c_str(), "localhost") == 0
                 || inet_pton(AF_INET, host.c_str(), &any) == 1
                 || inet_pton(AF_INET6, host.c_str(), &any) == 1;
  if (!literal)
    return refuse("the host is a name, not an IP address or localhost");
  if (loopback_only && !is_loopback_host(host))
    return refuse("the host is not loopback (api.http_client: auto uses the "
                  "own client for 127.0.0.0/8, ::1 and localhost only)");
  return true;
}

bool split_host_port(const std::string& hp, std::string& host, uint16_t& port) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= hp.size())
    return false;
  char* end = nullptr;
  auto p = std::strtol(hp.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535)
    return false;
  host = hp.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2); // [::1]:4242
  port = static_cast<uint16_t>(p);
  return true;
}

} // namespace evo::url
