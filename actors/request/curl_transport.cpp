// libcurl as a transport of the engine: easy-handle setup per call, the
// multi handle's socket and timer callbacks, and CURLcode -> transport_error.
#include "actors/request/curl_transport.hpp"

#include <curl/curl.h>
#include <strings.h>
#include <sys/epoll.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "actors/request/http1_parser.hpp"
#include "actors/request/http_engine.hpp"

namespace evo {

namespace {

void global_init_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
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
    = strncasecmp(url.c_str(), "https://", 8) == 0 ? env.https : env.http;
  const std::string& proxy = scheme_proxy.empty() ? env.all : scheme_proxy;
  if (proxy.empty()) {
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*"); // no lookup at all
    return;
  }
  curl_easy_setopt(easy, CURLOPT_PROXY, proxy.c_str());
  curl_easy_setopt(easy, CURLOPT_NOPROXY, env.no.c_str());
}

transport_error error_of(CURLcode code, bool too_large) {
  switch (code) {
    case CURLE_OK: return transport_error::none;
    case CURLE_OPERATION_TIMEDOUT: return transport_error::timeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return transport_error::connect;
    case CURLE_SEND_ERROR: return transport_error::send;
    case CURLE_RECV_ERROR: return transport_error::recv;
    case CURLE_GOT_NOTHING: return transport_error::no_reply;
    case CURLE_PARTIAL_FILE: return transport_error::truncated;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING: return transport_error::bad_reply;
    case CURLE_FILESIZE_EXCEEDED: return transport_error::too_large;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return transport_error::certificate;
    case CURLE_WRITE_ERROR:
      return too_large ? transport_error::too_large : transport_error::other;
    default: return transport_error::other;
  }
}

size_t on_body(char* data, size_t size, size_t n, void* self) {
  auto* call = static_cast<http_call*>(self);
  auto len = size * n;
  auto& body = call->outcome().body;
  // Counted as it arrives: CURLOPT_MAXFILESIZE only sees Content-Length,
  // not a chunked or until-close body.
  if (len > call->options().max_response_bytes - std::min<uint64_t>(
        body.size(), call->options().max_response_bytes))
    return 0; // CURLE_WRITE_ERROR, read as too_large below
  body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* self) {
  auto* call = static_cast<http_call*>(self);
  auto len = size * n;
  if (len >= 12 && strncasecmp(data, "retry-after:", 12) == 0)
    call->outcome().retry_after_ms
      = parse_retry_after(std::string(data + 12, len - 12));
  return len;
}

// libcurl re-sends a request by itself when a reused connection dies before
// any answer byte. It calls the pre-request callback right before each
// request goes out (first send and re-sends alike), so counting the calls
// counts the sends exactly.
int on_prereq(void* self, char*, char*, int, int) {
  curl_transport::count_send(*static_cast<http_call*>(self));
  return CURL_PREREQFUNC_OK;
}

// Called when libcurl has made a socket for a new connection of this
// transfer, right before connect(): connections reach the server in this
// order.
int on_sockopt(void* self, curl_socket_t, curlsocktype) {
  curl_transport::stamp_open(*static_cast<http_call*>(self));
  return CURL_SOCKOPT_OK;
}

} // namespace

void curl_transport::stamp_open(http_call& call) {
  call.curl_->opened = transport::clock::now();
}

void curl_transport::count_send(http_call& call) {
  ++call.curl_->sends;
}

bool http_proxy_configured() {
  auto& env = proxies();
  return !env.http.empty() || !env.all.empty();
}

curl_call_state::~curl_call_state() {
  if (easy != nullptr)
    curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
}

void curl_transport::prepare(http_call& call, bool url_changed) {
  if (!call.curl_) {
    global_init_once();
    auto st = std::make_unique<curl_call_state>();
    st->easy = curl_easy_init();
    if (st->easy == nullptr)
      throw std::runtime_error("curl_easy_init failed");
    auto& o = call.opts_;
    CURL* easy = st->easy;
    st->headers = curl_slist_append(st->headers, "Content-Type: application/json");
    st->headers = curl_slist_append(st->headers, "Expect:"); // no 100-continue
    for (auto& h : o.headers)
      st->headers = curl_slist_append(st->headers, h.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, st->headers);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<long>(o.timeout.count(), 10000)));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &call);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &call);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, st->error_buf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &call);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &on_prereq);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, &call);
    curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, &on_sockopt);
    curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, &call);
    // Refused early when Content-Length says so; on_body counts the rest.
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(o.max_response_bytes));
    if (!o.ca_file.empty())
      curl_easy_setopt(easy, CURLOPT_CAINFO, o.ca_file.c_str());
    if (o.insecure_skip_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    call.curl_ = std::move(st);
    url_changed = true;
  }
  auto& st = *call.curl_;
  if (url_changed) {
    curl_easy_setopt(st.easy, CURLOPT_URL, call.url_.c_str());
    apply_proxy(st.easy, call.url_);
  }
  st.sends = 0;
  curl_easy_setopt(st.easy, CURLOPT_POSTFIELDS, call.request_body_.data());
  curl_easy_setopt(st.easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(call.request_body_.size()));
  st.error_buf[0] = '\0';
}

curl_transport::curl_transport(int epfd, transfer_sink& sink)
  : epfd_(epfd), sink_(sink) {
  global_init_once();
  multi_ = curl_multi_init();
  if (multi_ == nullptr)
    throw std::runtime_error("http_engine: cannot initialise curl");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &curl_transport::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &curl_transport::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 1024L);
}

curl_transport::~curl_transport() {
  stop();
  curl_multi_cleanup(multi_);
}

int curl_transport::on_socket(CURL*, int s, int what, void* userp,
                              void* socketp) {
  auto* self = static_cast<curl_transport*>(userp);
  epoll_event ev{};
  ev.data.fd = s; // the upper half stays 0: the loop's mark of libcurl
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(self->epfd_, EPOLL_CTL_DEL, s, nullptr);
    curl_multi_assign(self->multi_, s, nullptr);
    return 0;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u)
              | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  if (socketp == nullptr) {
    // First time we see this socket: mark it known so later calls MOD it.
    curl_multi_assign(self->multi_, s, self);
    if (epoll_ctl(self->epfd_, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(self->epfd_, EPOLL_CTL_MOD, s, &ev);
  } else if (epoll_ctl(self->epfd_, EPOLL_CTL_MOD, s, &ev) != 0
             && errno == ENOENT) {
    epoll_ctl(self->epfd_, EPOLL_CTL_ADD, s, &ev);
  }
  return 0;
}

int curl_transport::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<curl_transport*>(userp);
  self->timeout_ms_ = timeout_ms;
  if (timeout_ms >= 0)
    self->deadline_ = clock::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

void curl_transport::start(std::shared_ptr<http_call> call) {
  auto* raw = call.get();
  raw->curl_->opened.reset();
  if (curl_multi_add_handle(multi_, raw->curl_->easy) != CURLM_OK) {
    raw->outcome_.error = transport_error::other;
    raw->outcome_.error_text = "curl_multi_add_handle failed";
    sink_.finished(std::move(call));
    return;
  }
  active_.emplace(raw, std::move(call));
}

std::optional<transport::clock::time_point>
curl_transport::fresh_since(const http_call& call) const {
  // Stamped by on_sockopt (libcurl does not open connections in the order
  // the transfers were added).
  if (!call.curl_)
    return std::nullopt;
  return call.curl_->opened;
}

std::shared_ptr<http_call> curl_transport::cancel(http_call* call) {
  auto it = active_.find(call);
  if (it == active_.end())
    return nullptr;
  // Removed mid-transfer, libcurl closes the connection. The next send
  // counts itself (on_prereq): sends accumulate until prepare().
  curl_multi_remove_handle(multi_, call->curl_->easy);
  auto owned = std::move(it->second);
  active_.erase(it);
  return owned;
}

void curl_transport::on_event(uint64_t tag, uint32_t events) {
  int mask = 0;
  if (events & EPOLLIN)
    mask |= CURL_CSELECT_IN;
  if (events & EPOLLOUT)
    mask |= CURL_CSELECT_OUT;
  if (events & (EPOLLERR | EPOLLHUP))
    mask |= CURL_CSELECT_ERR;
  curl_multi_socket_action(multi_, static_cast<int>(tag & 0xffffffffu), mask,
                           &running_);
}

transport::clock::time_point curl_transport::next_deadline() const {
  return timeout_ms_ >= 0 ? deadline_ : clock::time_point::max();
}

void curl_transport::on_deadline(clock::time_point) {
  timeout_ms_ = -1;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running_);
}

void curl_transport::collect() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL* easy = msg->easy_handle;
    auto code = msg->data.result;
    http_call* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    curl_multi_remove_handle(multi_, easy);
    auto it = active_.find(raw);
    if (it == active_.end())
      continue;
    auto call = std::move(it->second);
    active_.erase(it);
    auto& st = *call->curl_;
    auto& out = call->outcome_;
    // Only on_body refuses bytes, and only past the cap.
    out.error = error_of(code, /*too_large=*/code == CURLE_WRITE_ERROR);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
    curl_off_t total_us = 0;
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
    out.latency_us = static_cast<uint32_t>(total_us);
    out.sends = std::max<uint32_t>(st.sends, 1);
    if (out.error == transport_error::too_large)
      out.error_text = "response body larger than api.max_response_bytes ("
                       + std::to_string(call->opts_.max_response_bytes)
                       + " bytes)";
    else if (code != CURLE_OK)
      out.error_text = st.error_buf[0] != '\0' ? std::string{st.error_buf}
                                               : std::string{curl_easy_strerror(code)};
    sink_.finished(std::move(call));
  }
}

void curl_transport::stop() {
  for (auto& [raw, call] : active_)
    curl_multi_remove_handle(multi_, raw->curl_->easy);
  active_.clear();
}

} // namespace evo
