#include "request/http_engine.hpp"

#include <curl/curl.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

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

/// Retry-After is either delta-seconds or an HTTP date.
int32_t parse_retry_after(std::string value) {
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n'
                            || value.back() == ' '))
    value.pop_back();
  size_t start = value.find_first_not_of(' ');
  if (start == std::string::npos)
    return -1;
  value.erase(0, start);
  char* end = nullptr;
  double secs = std::strtod(value.c_str(), &end);
  if (end != value.c_str() && *end == '\0' && secs >= 0)
    return static_cast<int32_t>(std::min(secs, 86400.0) * 1000.0);
  auto when = curl_getdate(value.c_str(), nullptr);
  if (when < 0)
    return -1;
  auto delta = static_cast<double>(when - std::time(nullptr));
  return delta > 0 ? static_cast<int32_t>(std::min(delta, 86400.0) * 1000.0)
                   : 0;
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

} // namespace

// -- http_call ----------------------------------------------------------------

http_call::http_call(const http_options& opts) {
  global_init_once();
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
  }
  request_body_ = std::move(body);
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, request_body_.data());
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE,
                   static_cast<long>(request_body_.size()));
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
      if (timeout_ms >= 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
        wait_ms = left.count() > 0 ? static_cast<int>(left.count()) : 0;
      }
      int n = epoll_wait(epfd, events, 256, wait_ms);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wakefd) {
          uint64_t v;
          [[maybe_unused]] auto r = ::read(wakefd, &v, sizeof(v));
          take_incoming();
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
      collect_done();
    }
    for (auto& [raw, call] : active)
      curl_multi_remove_handle(multi, raw->easy_);
    active.clear();
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
  if (call->loop_ < 0)
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
