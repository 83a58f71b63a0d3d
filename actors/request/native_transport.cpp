// The own HTTP/1.1 client: connect, send, receive on non-blocking sockets in
// one I/O loop's epoll set, with a keep-alive pool per loop.
#include "actors/request/native_transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "actors/request/http_engine.hpp"

namespace evo {

// A connection: owned by one loop's transport, in its pool while idle,
// lent to one transfer at a time.
struct native_conn {
  int fd = -1;
  uint32_t gen = 0;  ///< tells a reused fd number's stale events apart
  std::string key;   ///< native_call_state::key
  http_call* user = nullptr; ///< the transfer on it; nullptr = idle
  bool reused = false;       ///< carried a whole response before
};

namespace {

using step = native_call_state::step;

} // namespace

native_transport::native_transport(int epfd, transfer_sink& sink)
  : epfd_(epfd), sink_(sink) {
  // nop
}

native_transport::~native_transport() {
  stop();
}

native_conn* native_transport::adopt_conn(int fd, const std::string& key) {
  auto idx = static_cast<size_t>(fd);
  if (conns_.size() <= idx)
    conns_.resize(idx + 1);
  if (!conns_[idx])
    conns_[idx] = std::make_unique<native_conn>();
  auto* c = conns_[idx].get();
  c->fd = fd;
  if (next_gen_ == 0)
    next_gen_ = 1; // 0 marks libcurl's sockets and the wake-up fd
  c->gen = next_gen_++;
  c->key = key;
  c->user = nullptr;
  c->reused = false;
  // Edge-triggered and registered once: no epoll_ctl per request.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (static_cast<uint64_t>(c->gen) << 32) | static_cast<uint32_t>(fd);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    c->fd = -1;
    c->gen = 0;
    return nullptr; // the caller closes fd and fails the connect
  }
  return c;
}

void native_transport::close_conn(native_conn* c) {
  if (c->user == nullptr) { // idle: leaves the pool
    auto it = std::find(idle_.begin(), idle_.end(), c);
    if (it != idle_.end()) {
      *it = idle_.back();
      idle_.pop_back();
    }
  }
  ::close(c->fd); // also leaves the epoll set
  c->fd = -1;
  c->gen = 0;
  c->user = nullptr;
}

native_conn* native_transport::take_idle(const std::string& key) {
  for (size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->key != key)
      continue;
    auto* c = idle_[i];
    idle_[i] = idle_.back();
    idle_.pop_back();
    return c;
  }
  return nullptr;
}

void native_transport::start(std::shared_ptr<http_call> owned) {
  auto* call = owned.get();
  auto& t = *call->native_;
  t.slot = active_.size();
  active_.push_back(std::move(owned));
  t.start = clock::now();
  auto timeout = call->opts_.timeout;
  t.deadline = t.start + timeout;
  t.connect_deadline = t.start + std::min<std::chrono::milliseconds>(
                                   timeout, std::chrono::seconds(10));
  next_ = std::min(next_, std::min(t.deadline, t.connect_deadline));
  begin_send(call);
}

// Rewinds the request bytes and the answer for a (re)send.
void native_transport::rewind(http_call* call) {
  auto& t = *call->native_;
  t.conn = nullptr; // a (re)send starts without one
  t.parser.reset();
  call->outcome_.body.clear();
  t.rx_ready = false;
  t.peer_closed = false;
  t.addr_index = 0;
  t.last_errno = 0;
  t.iov[0] = {const_cast<char*>(t.head.data()), t.head.size()};
  t.iov[1] = {t.length_line, t.length_len};
  t.iov[2] = {call->request_body_.data(), call->request_body_.size()};
  t.iov_first = 0;
  t.iov_count = call->request_body_.empty() ? 2 : 3;
}

// Puts the request on a pooled connection, or on a new one.
void native_transport::begin_send(http_call* call) {
  rewind(call);
  auto& t = *call->native_;
  if (auto* c = take_idle(t.key)) {
    t.conn = c;
    t.conn_reused = true;
    c->user = call;
    t.at = step::sending;
    if (send_some(call) && t.rx_ready)
      recv_some(call);
    return;
  }
  connect_next(call);
}

// Opens a connection to the call's next address; the last failure ends the
// transfer as a connect failure.
void native_transport::connect_next(http_call* call) {
  auto& t = *call->native_;
  for (; t.addr_index < t.addrs.size(); ++t.addr_index) {
    auto& a = t.addrs[t.addr_index];
    int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      t.last_errno = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    t.conn_opened = clock::now();
    int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (r != 0 && errno != EINPROGRESS) {
      t.last_errno = errno;
      ::close(fd);
      continue;
    }
    auto* c = adopt_conn(fd, t.key);
    if (c == nullptr) {
      t.last_errno = errno;
      ::close(fd);
      continue;
    }
    c->user = call;
    t.conn = c;
    t.conn_reused = false;
    if (r == 0) {
      t.at = step::sending;
      if (send_some(call) && t.rx_ready)
        recv_some(call);
    } else {
      t.at = step::connecting;
    }
    return;
  }
  finish(call, transport_error::connect,
         "Failed to connect to " + t.key + ": "
           + std::strerror(t.last_errno != 0 ? t.last_errno : ECONNREFUSED),
         false);
}

// Writes what is left of the request. True when all of it is out and the
// transfer waits for the answer; false when it waits for room or ended.
bool native_transport::send_some(http_call* call) {
  auto& t = *call->native_;
  while (t.iov_first < t.iov_count) {
    msghdr msg{};
    msg.msg_iov = t.iov + t.iov_first;
    msg.msg_iovlen = static_cast<size_t>(t.iov_count - t.iov_first);
    auto n = ::sendmsg(t.conn->fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return false; // the edge of EPOLLOUT brings us back
      io_failed(call, transport_error::send,
                std::string{"Send failure: "} + std::strerror(errno));
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (t.iov_first < t.iov_count && left >= t.iov[t.iov_first].iov_len)
      left -= t.iov[t.iov_first++].iov_len;
    if (left > 0) {
      auto& v = t.iov[t.iov_first];
      v.iov_base = static_cast<char*>(v.iov_base) + left;
      v.iov_len -= left;
    }
  }
  t.at = step::receiving;
  return true;
}

// Reads what has arrived. Edge-triggered: a read shorter than the buffer
// drained the socket and the next arrival raises a new edge; but a FIN
// already signalled raises none, so then it reads on to the end.
void native_transport::recv_some(http_call* call) {
  auto& t = *call->native_;
  auto& body = call->outcome_.body;
  while (true) {
    auto n = ::recv(t.conn->fd, rbuf_, sizeof(rbuf_), 0);
    if (n > 0) {
      auto got = static_cast<size_t>(n);
      auto used = t.parser.feed(rbuf_, got, body);
      if (t.parser.failed()) {
        finish(call,
               t.parser.too_large() ? transport_error::too_large
                                    : transport_error::bad_reply,
               t.parser.error(), false);
        return;
      }
      if (t.parser.done()) {
        // Bytes past the answer belong to nothing: do not reuse.
        // A FIN already signalled: the server is closing it.
        finish(call, transport_error::none, {},
               used == got && t.parser.keep_alive() && !t.peer_closed);
        return;
      }
      if (got < sizeof(rbuf_) && !t.peer_closed)
        return;
      continue;
    }
    if (n == 0) {
      t.parser.on_eof();
      if (t.parser.done()) {
        finish(call, transport_error::none, {}, false);
        return;
      }
      io_failed(call,
                t.parser.bytes_seen() == 0 ? transport_error::no_reply
                : t.parser.truncated()     ? transport_error::truncated
                                           : transport_error::bad_reply,
                t.parser.error());
      return;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      t.rx_ready = false; // until the next edge
      return;
    }
    io_failed(call, transport_error::recv,
              std::string{"Recv failure: "} + std::strerror(errno));
    return;
  }
}

// A connection failed under the transfer. As libcurl does, a pooled
// connection that dies before any answer byte (the server closed it while
// idle) gets the request once more on a new connection; the server may have
// read the first send, so it counts (outcome.sends).
void native_transport::io_failed(http_call* call, transport_error code,
                                 std::string error) {
  auto& t = *call->native_;
  if (t.conn_reused && t.parser.bytes_seen() == 0 && call->outcome_.sends == 1) {
    close_conn(t.conn);
    t.conn = nullptr;
    call->outcome_.sends = 2;
    rewind(call);
    connect_next(call);
    return;
  }
  finish(call, code, std::move(error), false);
}

void native_transport::finish(http_call* call, transport_error code,
                              std::string error, bool keep_conn) {
  auto& t = *call->native_;
  if (auto* c = t.conn) {
    t.conn = nullptr;
    if (keep_conn && idle_.size() < max_idle) {
      c->user = nullptr;
      c->reused = true;
      idle_.push_back(c);
    } else {
      c->user = call; // not in the pool
      close_conn(c);
    }
  }
  auto& out = call->outcome_;
  out.error = code;
  out.error_text = std::move(error);
  out.status = t.parser.status();
  out.retry_after_ms = t.parser.retry_after_ms();
  out.latency_us = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t.start)
      .count());
  sink_.finished(release(call));
}

std::shared_ptr<http_call> native_transport::release(http_call* call) {
  auto slot = call->native_->slot;
  auto holder = std::move(active_[slot]);
  if (slot + 1 != active_.size()) {
    active_[slot] = std::move(active_.back());
    active_[slot]->native_->slot = slot;
  }
  active_.pop_back();
  return holder;
}

std::optional<transport::clock::time_point>
native_transport::fresh_since(const http_call& call) const {
  if (!call.native_ || call.native_->conn_reused)
    return std::nullopt;
  return call.native_->conn_opened;
}

std::shared_ptr<http_call> native_transport::cancel(http_call* call) {
  if (!call->native_)
    return nullptr;
  auto& t = *call->native_;
  if (t.slot >= active_.size() || active_[t.slot].get() != call)
    return nullptr;
  if (auto* c = t.conn) {
    t.conn = nullptr;
    c->user = call; // not in the pool
    close_conn(c);
  }
  ++call->outcome_.sends;
  return release(call);
}

void native_transport::on_event(uint64_t tag, uint32_t events) {
  auto fd = static_cast<size_t>(tag & 0xffffffffu);
  auto gen = static_cast<uint32_t>(tag >> 32);
  if (fd >= conns_.size() || !conns_[fd] || conns_[fd]->gen != gen)
    return; // a closed connection's late event
  auto* c = conns_[fd].get();
  constexpr uint32_t readable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if (c->user == nullptr) {
    // Idle: the server closed it (or sent what nobody asked for).
    if (events & readable)
      close_conn(c);
    return;
  }
  auto* call = c->user;
  auto& t = *call->native_;
  if (events & readable)
    t.rx_ready = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    t.peer_closed = true;
  if (t.at == step::connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
      return;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      t.last_errno = err;
      close_conn(c);
      t.conn = nullptr;
      ++t.addr_index;
      connect_next(call);
      return;
    }
    t.at = step::sending;
  }
  if (t.at == step::sending && !send_some(call))
    return;
  if (t.rx_ready)
    recv_some(call);
}

// Ends the transfers past their deadline; finds the next deadline.
void native_transport::on_deadline(clock::time_point now) {
  next_ = clock::time_point::max();
  for (size_t i = 0; i < active_.size();) {
    auto* call = active_[i].get();
    auto& t = *call->native_;
    bool connecting = t.at == step::connecting;
    auto due = connecting ? std::min(t.deadline, t.connect_deadline) : t.deadline;
    if (now < due) {
      next_ = std::min(next_, due);
      ++i;
      continue;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - t.start)
                .count();
    finish(call, transport_error::timeout,
           connecting ? "Connection timed out after " + std::to_string(ms)
                          + " milliseconds"
                      : "Operation timed out after " + std::to_string(ms)
                          + " milliseconds with "
                          + std::to_string(t.parser.bytes_seen())
                          + " bytes received",
           false); // slot i now holds another transfer
  }
}

void native_transport::stop() {
  for (auto& c : conns_)
    if (c && c->fd >= 0)
      ::close(c->fd);
  conns_.clear();
  idle_.clear();
  for (auto& call : active_)
    call->native_->conn = nullptr; // the connections die with this loop
  active_.clear();
}

} // namespace evo
