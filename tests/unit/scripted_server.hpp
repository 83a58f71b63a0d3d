// A raw TCP server for the HTTP tests that writes exactly the bytes a test
// scripts, one connection at a time, on a free loopback port.
#pragma once

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace evo::test {

/// What the server does with one request: bytes to write, then whether to
/// close the connection.
struct reply {
  std::string bytes;
  bool close = false;
  bool reset = false; ///< after the bytes, close with RST (SO_LINGER 0)
  /// Write the bytes in two parts split here, 1 ms apart, so the client
  /// likely reads them apart (a stimulus; no test relies on the timing).
  size_t split_at = std::string::npos;
};

// Serves one connection at a time on 127.0.0.1:0; request `i` (counted over
// all connections) gets script(i), or script(i, request) with the request's
// bytes and whether it came on a reused connection. Every wait is bounded by
// poll timeouts.
class scripted_server {
public:
  using full_script = std::function<reply(int, const std::string&, bool)>;
  explicit scripted_server(std::function<reply(int)> script)
    : scripted_server(full_script{[script](int i, const std::string&, bool) {
        return script(i);
      }}) {}
  explicit scripted_server(full_script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    th_ = std::thread([this] { serve(); });
  }
  ~scripted_server() {
    stop_ = true;
    th_.join();
    ::close(fd_);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v1/completions";
  }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

private:
  bool wait_readable(int fd) {
    for (int i = 0; i < 200 && !stop_; ++i) { // 10 s at most
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0)
        return true;
    }
    return false;
  }

  void serve() {
    while (!stop_) {
      if (!wait_readable(fd_))
        return;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      ++connections_;
      serve_connection(c);
      ::close(c);
    }
  }

  void serve_connection(int c) {
    std::string in;
    char buf[4096];
    bool reused = false;
    while (!stop_) {
      // One request: headers, then Content-Length bytes of body.
      size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        if (!wait_readable(c))
          return;
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0)
          return;
        in.append(buf, static_cast<size_t>(n));
      }
      size_t length = 0;
      auto cl = in.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end)
        length = std::strtoul(in.c_str() + cl + 16, nullptr, 10);
      while (in.size() < head_end + 4 + length) {
        if (!wait_readable(c))
          return;
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0)
          return;
        in.append(buf, static_cast<size_t>(n));
      }
      std::string request = in.substr(0, head_end + 4 + length);
      in.erase(0, head_end + 4 + length);
      auto r = script_(requests_++, request, reused);
      reused = true;
      size_t first = std::min(r.split_at, r.bytes.size());
      if (first > 0 && ::send(c, r.bytes.data(), first, MSG_NOSIGNAL) < 0)
        return;
      if (first < r.bytes.size()) {
        if (first > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (::send(c, r.bytes.data() + first, r.bytes.size() - first,
                   MSG_NOSIGNAL) < 0)
          return;
      }
      if (r.reset) {
        linger l{1, 0};
        ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        return;
      }
      if (r.close)
        return;
    }
  }

  full_script script_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread th_;
};

} // namespace evo::test
