// The own client's request preparation: the URL's addresses (IP literals
// and localhost only: no resolver on the I/O thread), the pool key, and the
// request head, built once per URL; the length line per body.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <cstdio>

#include "actors/request/http_engine.hpp"
#include "actors/request/native_transport.hpp"
#include "actors/request/url.hpp"

namespace evo {

namespace {

bool add_addr(std::vector<native_addr>& out, int family, const char* text,
              uint16_t port) {
  native_addr a;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
      return false;
    a.len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
      return false;
    a.len = sizeof(sockaddr_in6);
  }
  out.push_back(a);
  return true;
}

} // namespace

bool native_transport::prepare_url(http_call& call) {
  auto parts = url::parse(call.url_);
  if (!parts || parts->https || !parts->userinfo.empty())
    return false;
  std::vector<native_addr> addrs;
  auto& host = parts->host;
  if (strcasecmp(host.c_str(), "localhost") == 0) {
    add_addr(addrs, AF_INET, "127.0.0.1", parts->port); // what a server on
    add_addr(addrs, AF_INET6, "::1", parts->port);      // "localhost" binds first
  } else if (!add_addr(addrs, AF_INET, host.c_str(), parts->port)
             && !add_addr(addrs, AF_INET6, host.c_str(), parts->port)) {
    return false; // a name: resolving it could block the I/O thread
  }
  if (!call.native_)
    call.native_ = std::make_unique<native_call_state>();
  auto& n = *call.native_;
  n.addrs = std::move(addrs);
  n.key = host + ":" + std::to_string(parts->port);
  n.head = "POST " + parts->target + " HTTP/1.1\r\nHost: " + parts->authority
           + "\r\nAccept: */*\r\nContent-Type: application/json\r\n";
  for (auto& h : call.opts_.headers)
    n.head.append(h).append("\r\n");
  n.head += "Content-Length: ";
  n.parser.set_max_body(call.opts_.max_response_bytes);
  return true;
}

void native_transport::prepare_body(http_call& call) {
  auto& n = *call.native_;
  int len = std::snprintf(n.length_line, sizeof(n.length_line), "%zu\r\n\r\n",
                          call.request_body_.size());
  n.length_len = static_cast<size_t>(len);
}

} // namespace evo
