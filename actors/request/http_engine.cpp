#include "actors/request/http_engine.hpp"

#include <curl/curl.h>

#include "actors/request/http1_parser.hpp"

#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace evo {

namespace {

void global_init_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool iequals_prefix(const char* data, size_t len, const char* prefix) {
  auto plen = std::strlen(prefix);
  return len >= plen && strncasecmp(data, prefix, plen) == 0;
}

// The proxy environment, read once. Left to itself libcurl reads it with
// getenv on every transfer; resolving it here keeps its meaning (same
// variables, same precedence) off the hot path.
struct proxy_env {
  std::string http, https, all, no;
};

const proxy_env& proxies() {
  static const proxy_env env = [] {
    auto get = [](const char* lower, const char* upper) {
      if (const char* v = std::getenv(lower); v && *v)
        return std::string{v};
      if (upper != nullptr)
        if (const char* v = std::getenv(upper); v && *v)
          return std::string{v};
      return std::string{};
    };
    proxy_env e;
    e.http = get("http_proxy", nullptr); // libcurl ignores HTTP_PROXY
    e.https = get("https_proxy", "HTTPS_PROXY");
    e.all = get("all_proxy", "ALL_PROXY");
    e.no = get("no_proxy", "NO_PROXY");
    return e;
  }();
  return env;
}

void apply_proxy(CURL* easy, const std::string& url) {
  auto& env = proxies();
  const std::string& scheme_proxy
    = url.rfind("https://", 0) == 0 ? env.https : env.http;
  const std::string& proxy = scheme_proxy.empty() ? env.all : scheme_proxy;
  if (proxy.empty()) {
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*"); // no lookup at all
    return;
  }
  curl_easy_setopt(easy, CURLOPT_PROXY, proxy.c_str());
  curl_easy_setopt(easy, CURLOPT_NOPROXY, env.no.c_str());
}

struct native_addr {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// What the own client needs of a URL; nullopt (and `why`) when it cannot go
// there by itself: only plain http:// to an IP literal or localhost, so no
// name resolution ever blocks an I/O thread.
struct native_url {
  std::string host_header; ///< Host: as written in the URL, port included
  std::string key;         ///< the connection pool's key, "host:port"
  std::string path;        ///< request target: path and query
  std::vector<native_addr> addrs;
};

std::optional<native_url> parse_native_url(const std::string& url,
                                           std::string* why) {
  auto refuse = [why](const char* reason) {
    if (why != nullptr)
      *why = reason;
    return std::nullopt;
  };
  if (url.size() < 7 || strncasecmp(url.c_str(), "http://", 7) != 0)
    return refuse("not a plain http:// URL");
  auto rest = std::string_view{url}.substr(7);
  auto auth_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, auth_end);
  auto target = auth_end == std::string_view::npos ? std::string_view{}
                                                   : rest.substr(auth_end);
  if (auto hash = target.find('#'); hash != std::string_view::npos)
    target = target.substr(0, hash);
  if (authority.find('@') != std::string_view::npos)
    return refuse("the URL carries user information");
  std::string_view host, port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return refuse("malformed IPv6 address");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return refuse("malformed authority");
    if (!after.empty())
      port_text = after.substr(1);
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos)
      port_text = authority.substr(colon + 1);
  }
  unsigned port = 80;
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
  native_url out;
  std::string host_str{host};
  auto add_v4 = [&out, port](const char* text) {
    native_addr a;
    auto* in = reinterpret_cast<sockaddr_in*>(&a.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
      return false;
    a.len = sizeof(sockaddr_in);
    out.addrs.push_back(a);
    return true;
  };
  auto add_v6 = [&out, port](const char* text) {
    native_addr a;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
      return false;
    a.len = sizeof(sockaddr_in6);
    out.addrs.push_back(a);
    return true;
  };
  if (strcasecmp(host_str.c_str(), "localhost") == 0) {
    add_v4("127.0.0.1"); // what a server started on "localhost" binds first
    add_v6("::1");
  } else if (!add_v4(host_str.c_str()) && !add_v6(host_str.c_str())) {
    return refuse("the host is a name, not an IP address or localhost");
  }
  out.host_header = std::string{authority};
  out.key = host_str + ":" + std::to_string(port);
  out.path = target.empty() || target.front() != '/'
               ? "/" + std::string{target}
               : std::string{target};
  return out;
}

bool proxy_configured_for_http() {
  auto& env = proxies();
  return !env.http.empty() || !env.all.empty();
}

} // namespace

bool native_http_eligible(const std::string& url, std::string* why) {
  if (proxy_configured_for_http()) {
    if (why != nullptr)
      *why = "a proxy is configured (http_proxy / all_proxy)";
    return false;
  }
  return parse_native_url(url, why).has_value();
}

// The own client's connection: owned by one I/O thread's loop, in its pool
// while idle, lent to one transfer at a time.
struct native_conn {
  int fd = -1;
  uint32_t gen = 0;  ///< tells a reused fd number's stale events apart
  std::string key;   ///< native_url::key
  http_call* user = nullptr; ///< the transfer on it; nullptr = idle
  bool reused = false;       ///< carried a whole response before
};

struct http_call::native_state {
  // Set by prepare_post on the owner's thread, between transfers.
  native_url url;
  std::string head; ///< request line and headers up to "Content-Length: "
  char length_line[32] = {};
  size_t length_len = 0;

  // The transfer: the I/O thread's only.
  enum class step : uint8_t { connecting, sending, receiving };
  step at = step::connecting;
  native_conn* conn = nullptr;
  bool conn_reused = false;
  bool rx_ready = false;    ///< readable seen while still sending
  bool peer_closed = false; ///< the peer's FIN (or an error) was signalled
  size_t addr_index = 0;
  int last_errno = 0;
  iovec iov[3] = {};
  int iov_first = 0;
  int iov_count = 0;
  http1_response_parser parser;
  std::chrono::steady_clock::time_point start, deadline, connect_deadline;
  size_t slot = 0; ///< index in the loop's native_active
};

// -- http_call ----------------------------------------------------------------

http_call::http_call(const http_options& opts)
  : client_(opts.client), timeout_(opts.timeout) {
  global_init_once();
  header_lines_ = "Accept: */*\r\nContent-Type: application/json\r\n";
  for (auto& h : opts.headers)
    header_lines_.append(h).append("\r\n");
  easy_ = curl_easy_init();
  if (easy_ == nullptr)
    throw std::runtime_error("curl_easy_init failed");
  headers_ = curl_slist_append(headers_, "Content-Type: application/json");
  headers_ = curl_slist_append(headers_, "Expect:"); // no 100-continue dance
  for (auto& h : opts.headers)
    headers_ = curl_slist_append(headers_, h.c_str());
  error_buf_[0] = '\0';
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(opts.timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<long>(opts.timeout.count(), 10000)));
  curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &http_call::on_body);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &http_call::on_header);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_buf_);
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
  curl_easy_setopt(easy_, CURLOPT_POST, 1L);
  if (!opts.ca_file.empty())
    curl_easy_setopt(easy_, CURLOPT_CAINFO, opts.ca_file.c_str());
  if (opts.insecure_skip_verify) {
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

http_call::~http_call() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

void http_call::prepare_post(const std::string& url, std::string body) {
  if (url != url_ || body.size() != request_body_.size())
    single_request_size_ = 0; // other bytes per send
  if (url != url_) {
    url_ = url;
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    apply_proxy(easy_, url_);
    use_native_ = false;
    if (client_ != http_client_kind::libcurl && !proxy_configured_for_http())
      if (auto parsed = parse_native_url(url_, nullptr)) {
        if (!native_)
          native_ = std::make_unique<native_state>();
        auto& n = *native_;
        n.url = std::move(*parsed);
        n.head = "POST " + n.url.path + " HTTP/1.1\r\nHost: "
                 + n.url.host_header + "\r\n" + header_lines_
                 + "Content-Length: ";
        use_native_ = true;
      }
  }
  request_body_ = std::move(body);
  if (use_native_) {
    auto& n = *native_;
    int len = std::snprintf(n.length_line, sizeof(n.length_line),
                            "%zu\r\n\r\n", request_body_.size());
    n.length_len = static_cast<size_t>(len);
  } else {
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, request_body_.data());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(request_body_.size()));
  }
  outcome_.curl_code = 0;
  outcome_.status = 0;
  outcome_.retry_after_ms = -1;
  outcome_.body.clear(); // keeps its capacity: no allocation once warm
  outcome_.error.clear();
  outcome_.latency_us = 0;
  outcome_.sends = 1;
  error_buf_[0] = '\0';
}

size_t http_call::on_body(char* data, size_t size, size_t n, void* self) {
  auto* call = static_cast<http_call*>(self);
  call->outcome_.body.append(data, size * n);
  return size * n;
}

size_t http_call::on_header(char* data, size_t size, size_t n, void* self) {
  auto* call = static_cast<http_call*>(self);
  auto len = size * n;
  if (iequals_prefix(data, len, "retry-after:")) {
    std::string value(data + 12, len - 12);
    call->outcome_.retry_after_ms = parse_retry_after(std::move(value));
  }
  return len;
}

// -- http_engine ----------------------------------------------------------------

struct http_engine::loop {
  http_engine* owner;
  CURLM* multi = nullptr;
  int epfd = -1;
  int wakefd = -1;
  std::thread io;
  std::atomic<bool> stopping{false};

  loop() = default;
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;
  ~loop() { // the thread has been joined by now (or never started)
    if (multi != nullptr)
      curl_multi_cleanup(multi);
    if (epfd >= 0)
      ::close(epfd);
    if (wakefd >= 0)
      ::close(wakefd);
  }

  std::mutex mtx;
  std::vector<std::shared_ptr<http_call>> incoming;

  // Touched by the I/O thread only.
  std::vector<std::shared_ptr<http_call>> batch;
  std::unordered_map<http_call*, std::shared_ptr<http_call>> active;
  long timeout_ms = -1;
  std::chrono::steady_clock::time_point deadline;

  // The own client: connections by fd (objects reused with the fd number),
  // the idle pool, and the transfers in flight (no allocation per request).
  using clock = std::chrono::steady_clock;
  std::vector<std::unique_ptr<native_conn>> conns;
  std::vector<native_conn*> idle;
  std::vector<std::shared_ptr<http_call>> native_active;
  clock::time_point native_next = clock::time_point::max();
  uint32_t next_gen = 1;
  static constexpr size_t max_idle = 1024; // as CURLMOPT_MAXCONNECTS
  char rbuf[64 * 1024];

  // -- the own client ----------------------------------------------------------

  native_conn* adopt_conn(int fd, const std::string& key) {
    auto idx = static_cast<size_t>(fd);
    if (conns.size() <= idx)
      conns.resize(idx + 1);
    if (!conns[idx])
      conns[idx] = std::make_unique<native_conn>();
    auto* c = conns[idx].get();
    c->fd = fd;
    if (next_gen == 0)
      next_gen = 1; // 0 marks curl's sockets and the wake-up fd
    c->gen = next_gen++;
    c->key = key;
    c->user = nullptr;
    c->reused = false;
    // Edge-triggered and registered once: no epoll_ctl per request.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (static_cast<uint64_t>(c->gen) << 32)
                  | static_cast<uint32_t>(fd);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      c->fd = -1;
      c->gen = 0;
      return nullptr; // the caller closes fd and fails the connect
    }
    return c;
  }

  void close_conn(native_conn* c) {
    if (c->user == nullptr) { // idle: leaves the pool
      auto it = std::find(idle.begin(), idle.end(), c);
      if (it != idle.end()) {
        *it = idle.back();
        idle.pop_back();
      }
    }
    ::close(c->fd); // also leaves the epoll set
    c->fd = -1;
    c->gen = 0;
    c->user = nullptr;
  }

  native_conn* take_idle(const std::string& key) {
    for (size_t i = idle.size(); i-- > 0;) {
      if (idle[i]->key != key)
        continue;
      auto* c = idle[i];
      idle[i] = idle.back();
      idle.pop_back();
      return c;
    }
    return nullptr;
  }

  void start_native(std::shared_ptr<http_call> owned) {
    auto* call = owned.get();
    auto& t = *call->native_;
    t.slot = native_active.size();
    native_active.push_back(std::move(owned));
    t.start = clock::now();
    t.deadline = t.start + call->timeout_;
    t.connect_deadline = t.start
                         + std::min<std::chrono::milliseconds>(
                           call->timeout_, std::chrono::seconds(10));
    native_next = std::min(native_next, std::min(t.deadline, t.connect_deadline));
    begin_send(call);
  }

  // Rewinds the request bytes and the answer for a (re)send.
  static void rewind(http_call* call) {
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
  void begin_send(http_call* call) {
    rewind(call);
    auto& t = *call->native_;
    if (auto* c = take_idle(t.url.key)) {
      t.conn = c;
      t.conn_reused = true;
      c->user = call;
      t.at = http_call::native_state::step::sending;
      if (send_some(call) && t.rx_ready)
        recv_some(call);
      return;
    }
    connect_next(call);
  }

  // Opens a connection to the call's next address; the last failure ends
  // the transfer as libcurl's CURLE_COULDNT_CONNECT would.
  void connect_next(http_call* call) {
    auto& t = *call->native_;
    for (; t.addr_index < t.url.addrs.size(); ++t.addr_index) {
      auto& a = t.url.addrs[t.addr_index];
      int fd = ::socket(a.addr.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        t.last_errno = errno;
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
      int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
      if (r != 0 && errno != EINPROGRESS) {
        t.last_errno = errno;
        ::close(fd);
        continue;
      }
      auto* c = adopt_conn(fd, t.url.key);
      if (c == nullptr) {
        t.last_errno = errno;
        ::close(fd);
        continue;
      }
      c->user = call;
      t.conn = c;
      t.conn_reused = false;
      if (r == 0) {
        t.at = http_call::native_state::step::sending;
        if (send_some(call) && t.rx_ready)
          recv_some(call);
      } else {
        t.at = http_call::native_state::step::connecting;
      }
      return;
    }
    finish_native(call, CURLE_COULDNT_CONNECT,
                  "Failed to connect to " + t.url.key + ": "
                    + std::strerror(t.last_errno != 0 ? t.last_errno
                                                      : ECONNREFUSED),
                  false);
  }

  // Writes what is left of the request. True when all of it is out and the
  // transfer waits for the answer; false when it waits for room or ended.
  bool send_some(http_call* call) {
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
        io_failed(call, CURLE_SEND_ERROR,
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
    t.at = http_call::native_state::step::receiving;
    return true;
  }

  // Reads what has arrived. Edge-triggered: a read shorter than the buffer
  // drained the socket and the next arrival raises a new edge; but a FIN
  // already signalled raises none, so then it reads on to the end.
  void recv_some(http_call* call) {
    auto& t = *call->native_;
    auto& body = call->outcome_.body;
    while (true) {
      auto n = ::recv(t.conn->fd, rbuf, sizeof(rbuf), 0);
      if (n > 0) {
        auto got = static_cast<size_t>(n);
        auto used = t.parser.feed(rbuf, got, body);
        if (t.parser.failed()) {
          finish_native(call, CURLE_WEIRD_SERVER_REPLY, t.parser.error(),
                        false);
          return;
        }
        if (t.parser.done()) {
          // Bytes past the answer belong to nothing: do not reuse.
          // A FIN already signalled: the server is closing it.
          finish_native(call, CURLE_OK, {},
                        used == got && t.parser.keep_alive()
                          && !t.peer_closed);
          return;
        }
        if (got < sizeof(rbuf) && !t.peer_closed)
          return;
        continue;
      }
      if (n == 0) {
        t.parser.on_eof();
        if (t.parser.done()) {
          finish_native(call, CURLE_OK, {}, false);
          return;
        }
        io_failed(call,
                  t.parser.bytes_seen() == 0 ? CURLE_GOT_NOTHING
                  : t.parser.truncated()     ? CURLE_PARTIAL_FILE
                                             : CURLE_WEIRD_SERVER_REPLY,
                  t.parser.error());
        return;
      }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        t.rx_ready = false; // until the next edge
        return;
      }
      io_failed(call, CURLE_RECV_ERROR,
                std::string{"Recv failure: "} + std::strerror(errno));
      return;
    }
  }

  // A connection failed under the transfer. As libcurl does, a pooled
  // connection that dies before any answer byte (the server closed it while
  // idle) gets the request once more on a new connection; the server may
  // have read the first send, so it counts (outcome.sends).
  void io_failed(http_call* call, int code, std::string error) {
    auto& t = *call->native_;
    if (t.conn_reused && t.parser.bytes_seen() == 0
        && call->outcome_.sends == 1) {
      close_conn(t.conn);
      t.conn = nullptr;
      call->outcome_.sends = 2;
      rewind(call);
      connect_next(call);
      return;
    }
    finish_native(call, code, std::move(error), false);
  }

  void finish_native(http_call* call, int code, std::string error,
                     bool keep_conn) {
    auto& t = *call->native_;
    if (auto* c = t.conn) {
      t.conn = nullptr;
      if (keep_conn && idle.size() < max_idle) {
        c->user = nullptr;
        c->reused = true;
        idle.push_back(c);
      } else {
        c->user = call; // not in the pool
        close_conn(c);
      }
    }
    auto& out = call->outcome_;
    out.curl_code = code;
    out.error = std::move(error);
    out.status = t.parser.status();
    out.retry_after_ms = t.parser.retry_after_ms();
    out.latency_us = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now()
                                                            - t.start)
        .count());
    auto slot = t.slot;
    auto holder = std::move(native_active[slot]);
    if (slot + 1 != native_active.size()) {
      native_active[slot] = std::move(native_active.back());
      native_active[slot]->native_->slot = slot;
    }
    native_active.pop_back();
    owner->in_flight_.fetch_sub(1);
    auto done = std::move(call->on_done);
    call->on_done = nullptr;
    if (done)
      done();
  }

  void on_native_event(uint64_t data, uint32_t events) {
    auto fd = static_cast<size_t>(data & 0xffffffffu);
    auto gen = static_cast<uint32_t>(data >> 32);
    if (fd >= conns.size() || !conns[fd] || conns[fd]->gen != gen)
      return; // a closed connection's late event
    auto* c = conns[fd].get();
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
    if (t.at == http_call::native_state::step::connecting) {
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
      t.at = http_call::native_state::step::sending;
    }
    if (t.at == http_call::native_state::step::sending && !send_some(call))
      return;
    if (t.rx_ready)
      recv_some(call);
  }

  // Ends the transfers past their deadline; finds the next deadline.
  void sweep_native(clock::time_point now) {
    native_next = clock::time_point::max();
    for (size_t i = 0; i < native_active.size();) {
      auto* call = native_active[i].get();
      auto& t = *call->native_;
      bool connecting = t.at == http_call::native_state::step::connecting;
      auto due = connecting ? std::min(t.deadline, t.connect_deadline)
                            : t.deadline;
      if (now < due) {
        native_next = std::min(native_next, due);
        ++i;
        continue;
      }
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  now - t.start).count();
      finish_native(call, CURLE_OPERATION_TIMEDOUT,
                    connecting
                      ? "Connection timed out after " + std::to_string(ms)
                          + " milliseconds"
                      : "Operation timed out after " + std::to_string(ms)
                          + " milliseconds with "
                          + std::to_string(t.parser.bytes_seen())
                          + " bytes received",
                    false); // slot i now holds another transfer
    }
  }

  static int on_socket(CURL*, curl_socket_t s, int what, void* userp,
                       void* socketp) {
    auto* self = static_cast<loop*>(userp);
    epoll_event ev{};
    ev.data.fd = s;
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epfd, EPOLL_CTL_DEL, s, nullptr);
      curl_multi_assign(self->multi, s, nullptr);
      return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u)
                | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (socketp == nullptr) {
      // First time we see this socket: mark it known so later calls MOD it.
      curl_multi_assign(self->multi, s, self);
      if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
        epoll_ctl(self->epfd, EPOLL_CTL_MOD, s, &ev);
    } else if (epoll_ctl(self->epfd, EPOLL_CTL_MOD, s, &ev) != 0
               && errno == ENOENT) {
      epoll_ctl(self->epfd, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<loop*>(userp);
    self->timeout_ms = timeout_ms;
    if (timeout_ms >= 0)
      self->deadline = std::chrono::steady_clock::now()
                       + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  void collect_done() {
    int pending = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &pending)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      CURL* easy = msg->easy_handle;
      auto code = msg->data.result;
      http_call* raw = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
      curl_multi_remove_handle(multi, easy);
      auto it = active.find(raw);
      if (it == active.end())
        continue;
      auto call = std::move(it->second);
      active.erase(it);
      auto& out = call->outcome_;
      out.curl_code = static_cast<int>(code);
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
      curl_off_t total_us = 0;
      curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
      out.latency_us = static_cast<uint32_t>(total_us);
      // CURLINFO_REQUEST_SIZE adds up every send of the transfer (a re-send
      // may go out on another pooled connection, so NUM_CONNECTS cannot
      // tell). Nearly every transfer sends once: the smallest size seen is
      // that of one send.
      long request_size = 0;
      curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
      auto& single = call->single_request_size_;
      if (request_size > 0 && (single == 0 || request_size < single))
        single = request_size;
      if (single > 0 && request_size > single)
        out.sends = static_cast<uint32_t>((request_size + single / 2) / single);
      if (code != CURLE_OK)
        out.error = call->error_buf_[0] != '\0'
                      ? std::string{call->error_buf_}
                      : std::string{curl_easy_strerror(code)};
      owner->in_flight_.fetch_sub(1);
      auto done = std::move(call->on_done);
      call->on_done = nullptr;
      if (done)
        done();
    }
  }

  void take_incoming() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      batch.swap(incoming);
    }
    for (auto& call : batch) {
      auto* raw = call.get();
      if (raw->use_native_) {
        start_native(std::move(call));
        continue;
      }
      if (curl_multi_add_handle(multi, raw->easy_) != CURLM_OK) {
        raw->outcome_.curl_code = CURLE_FAILED_INIT;
        raw->outcome_.error = "curl_multi_add_handle failed";
        owner->in_flight_.fetch_sub(1);
        auto done = std::move(raw->on_done);
        if (done)
          done();
        continue;
      }
      active.emplace(raw, std::move(call));
    }
    batch.clear();
  }

  void run() {
    epoll_event events[256];
    int running = 0;
    while (!stopping.load(std::memory_order_relaxed)) {
      int wait_ms = -1;
      if (timeout_ms >= 0 || !native_active.empty()) {
        auto now = clock::now();
        auto until = timeout_ms >= 0 ? deadline : clock::time_point::max();
        if (!native_active.empty())
          until = std::min(until, native_next);
        // Rounded up: waking a hair early would spin until the deadline.
        auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
        wait_ms = left.count() > 0
                    ? static_cast<int>(std::min<int64_t>(left.count(), 60000))
                    : 0;
      }
      int n = epoll_wait(epfd, events, 256, wait_ms);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      bool woken = false;
      for (int i = 0; i < n; ++i) {
        if ((events[i].data.u64 >> 32) != 0) {
          on_native_event(events[i].data.u64, events[i].events);
          continue;
        }
        int fd = events[i].data.fd;
        if (fd == wakefd) {
          woken = true;
          continue;
        }
        int mask = 0;
        if (events[i].events & EPOLLIN)
          mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT)
          mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP))
          mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi, fd, mask, &running);
      }
      if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) {
        timeout_ms = -1;
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      // New transfers last: a pooled connection whose close came in the
      // same batch is gone by then, and costs no re-send.
      if (woken) {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(wakefd, &v, sizeof(v));
        take_incoming();
      }
      if (!native_active.empty() && clock::now() >= native_next)
        sweep_native(clock::now());
      collect_done();
    }
    for (auto& [raw, call] : active)
      curl_multi_remove_handle(multi, raw->easy_);
    active.clear();
    for (auto& c : conns)
      if (c && c->fd >= 0)
        ::close(c->fd);
    idle.clear();
    for (auto& call : native_active)
      call->native_->conn = nullptr; // the connections die with this loop
    native_active.clear();
  }
};

http_engine::http_engine(size_t io_threads) {
  global_init_once();
  io_threads = std::max<size_t>(io_threads, 1);
  for (size_t i = 0; i < io_threads; ++i) {
    auto d = std::make_unique<loop>();
    d->owner = this;
    d->multi = curl_multi_init();
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->multi == nullptr || d->epfd < 0 || d->wakefd < 0)
      throw std::runtime_error("http_engine: cannot initialise curl/epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = d->wakefd;
    epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &ev);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, &loop::on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d.get());
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, &loop::on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d.get());
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 1024L);
    loops_.push_back(std::move(d));
  }
  for (auto& d : loops_) {
    auto* raw = d.get();
    raw->io = std::thread([raw] { raw->run(); });
  }
}

http_engine::~http_engine() {
  for (auto& d : loops_) {
    d->stopping = true;
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(d->wakefd, &one, sizeof(one));
  }
  for (auto& d : loops_) {
    if (d->io.joinable())
      d->io.join();
    std::lock_guard<std::mutex> guard{d->mtx};
    d->incoming.clear();
  }
  loops_.clear(); // easy handles still active are removed by run()
}

void http_engine::submit(std::shared_ptr<http_call> call) {
  // A call that ran on an engine with more loops starts over here.
  if (call->loop_ < 0 || static_cast<size_t>(call->loop_) >= loops_.size())
    call->loop_ = static_cast<int>(next_loop_.fetch_add(1) % loops_.size());
  auto& d = *loops_[static_cast<size_t>(call->loop_)];
  in_flight_.fetch_add(1);
  bool was_empty;
  {
    std::lock_guard<std::mutex> guard{d.mtx};
    was_empty = d.incoming.empty();
    d.incoming.push_back(std::move(call));
  }
  // One wake-up per batch of submissions is enough.
  if (was_empty) {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(d.wakefd, &one, sizeof(one));
  }
}

} // namespace evo
