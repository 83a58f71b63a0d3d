// The engine: I/O threads with an epoll loop each, submission of transfers,
// the choice of transport per call (curl_transport, native_transport), and
// the per-host cap on requests on the wire with the move of stuck ones
// (host_gate), one mechanism for both transports.
#include "actors/request/http_engine.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "actors/request/curl_transport.hpp"
#include "actors/request/host_gate.hpp"
#include "actors/request/native_transport.hpp"
#include "actors/request/url.hpp"

namespace evo {

bool native_http_eligible(const std::string& url, http_client_kind client,
                          std::string* why) {
  if (client == http_client_kind::libcurl) {
    if (why != nullptr)
      *why = "api.http_client is libcurl";
    return false;
  }
  if (http_proxy_configured()) {
    if (why != nullptr)
      *why = "a proxy is configured (http_proxy / all_proxy)";
    return false;
  }
  return url::native_capable(url, client == http_client_kind::automatic, why);
}

// -- http_call ------------------------------------------------------------------

http_call::http_call(const http_options& opts) : opts_(opts) {
  // nop
}

http_call::~http_call() = default;

void http_call::prepare_post(const std::string& url, std::string body) {
  bool url_changed = url != url_ || (!curl_ && !native_);
  if (url_changed) {
    url_ = url;
    auto parts = url::parse(url_);
    host_key_ = parts ? (parts->https ? "https://" : "http://") + parts->host
                          + ":" + std::to_string(parts->port)
                      : url_;
    use_native_ = native_http_eligible(url_, opts_.client)
                  && native_transport::prepare_url(*this);
  }
  request_body_ = std::move(body);
  if (use_native_)
    native_transport::prepare_body(*this);
  else
    curl_transport::prepare(*this, url_changed);
  outcome_.error = transport_error::none;
  outcome_.status = 0;
  outcome_.retry_after_ms = -1;
  outcome_.body.clear(); // keeps its capacity unless moved out
  outcome_.error_text.clear();
  outcome_.latency_us = 0;
  outcome_.sends = 1;
}

// -- http_engine ----------------------------------------------------------------

// One I/O thread: its epoll set, the wake-up eventfd, both transports, and
// the requests waiting for a slot on their host.
struct http_engine::loop final : transfer_sink {
  using clock = transport::clock;
  /// How often requests on the wire are checked for being stuck.
  static constexpr std::chrono::milliseconds check_every{10};
  /// Calls put on the wire per pass of the loop; the rest wait for the next
  /// pass, which comes at once. Opening a connection costs tens of
  /// microseconds of this thread (libcurl: in its next socket_action), and
  /// a burst of hundreds at the start of a run would leave the answers of
  /// the first ones unread for as long as the burst takes (20–50 ms at 256
  /// in flight): their latency. Between passes the loop reads what has
  /// come; the burst as a whole takes as long as before.
  static constexpr size_t launches_per_pass = 16;

  http_engine* owner = nullptr;
  int epfd = -1;
  int wakefd = -1;
  std::unique_ptr<curl_transport> curl;
  std::unique_ptr<native_transport> native;
  std::thread io;
  std::atomic<bool> stopping{false};

  std::mutex mtx;
  std::vector<std::shared_ptr<http_call>> incoming;
  std::vector<std::shared_ptr<http_call>> batch; // the I/O thread's

  // The I/O thread's: the calls it holds back per host, and the calls on
  // the wire (in a transport). The gate is the engine's (owner->gate_).
  unsigned index = 0;
  std::unordered_map<std::string, std::deque<std::shared_ptr<http_call>>> waiting;
  std::unordered_map<std::string, size_t> waiting_count; // for gate.probe
  size_t on_wire = 0;
  size_t launched = 0;     // in this pass
  bool held_back = false;  // a call waits for the next pass, not for its cap
  bool ramp_wait = false;  // a call waits for its host's ramp (host_gate)
  clock::time_point next_check = clock::time_point::max();

  loop() = default;
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;
  ~loop() override { // the thread has been joined by now (or never started)
    curl.reset();
    native.reset();
    if (epfd >= 0)
      ::close(epfd);
    if (wakefd >= 0)
      ::close(wakefd);
  }

  transport& carrier(const http_call& call) {
    return call.use_native_ ? static_cast<transport&>(*native)
                            : static_cast<transport&>(*curl);
  }

  host_gate& gate() { return *owner->gate_; }
  std::unique_lock<std::mutex> gate_lock() {
    return std::unique_lock<std::mutex>{owner->gate_mtx_};
  }

  void finished(std::shared_ptr<http_call> call) override {
    --on_wire;
    {
      auto lock = gate_lock();
      gate().ended(call->host_key_, reinterpret_cast<uintptr_t>(call.get()),
                   clock::now(), call->outcome_.status > 0,
                   carrier(*call).fresh_since(*call));
    }
    owner->in_flight_.fetch_sub(1);
    auto done = std::move(call->on_done);
    call->on_done = nullptr;
    if (done)
      done();
  }

  // The loop with room on a capped host's served connections, when not
  // this one: a call for that host goes there (and stays: calls stick to
  // a loop). A call handed over once is not handed on again at once, so
  // two loops never pass it back and forth.
  int served_elsewhere(http_call& call) {
    if (call.handed_over_) {
      call.handed_over_ = false;
      return -1;
    }
    auto lock = gate_lock();
    int g = gate().home_group(call.host_key_, index);
    return g == static_cast<int>(index) ? -1 : g;
  }

  // Puts a call on the wire, or holds it back while its host is at its cap
  // (first when `first`: a moved call), or hands it to the loop served.
  void dispatch(std::shared_ptr<http_call> call, bool first = false) {
    if (int g = served_elsewhere(*call); g >= 0) {
      call->loop_ = g;
      call->handed_over_ = true;
      owner->enqueue(std::move(call));
      return;
    }
    auto& q = waiting[call->host_key_];
    bool may;
    {
      auto lock = gate_lock();
      may = q.empty() && gate().may_send(call->host_key_, clock::now(), index);
      ramp_wait = ramp_wait || (!may && gate().ramping(call->host_key_, clock::now()));
    }
    if (may && launched >= launches_per_pass) {
      may = false;
      held_back = true;
    }
    if (may)
      launch(std::move(call));
    else if (first)
      q.push_front(std::move(call));
    else
      q.push_back(std::move(call));
    arm_check();
  }

  void arm_check() {
    if (next_check == clock::time_point::max())
      next_check = clock::now() + check_every;
  }

  void launch(std::shared_ptr<http_call> call) {
    {
      auto lock = gate_lock();
      gate().sent(call->host_key_, reinterpret_cast<uintptr_t>(call.get()),
                  clock::now(), index);
    }
    ++on_wire;
    ++launched;
    arm_check();
    auto& t = carrier(*call);
    t.start(std::move(call)); // may end (finished) before it returns
  }

  // Sends what waits, as far as the caps allow.
  void pump() {
    for (auto& [host, q] : waiting)
      while (!q.empty()) {
        {
          auto lock = gate_lock();
          if (!gate().may_send(host, clock::now(), index)) {
            ramp_wait = ramp_wait || gate().ramping(host, clock::now());
            break;
          }
        }
        if (launched >= launches_per_pass) {
          held_back = true;
          return;
        }
        auto call = std::move(q.front());
        q.pop_front();
        launch(std::move(call));
      }
  }

  // When the connection of a call on the wire was opened for it (the gate's
  // ids are the calls' addresses).
  std::optional<clock::time_point> opened_for(uintptr_t id) {
    auto* raw = reinterpret_cast<http_call*>(id);
    return carrier(*raw).fresh_since(*raw);
  }

  // Calls waiting for a capped host whose served connections are another
  // loop's (this loop's cap there is 0, or it has no room while another
  // loop has) go to that loop rather than wait for a probe: as many as it
  // has room for, so the two loops do not pass a queue back and forth.
  void hand_over_waiting() {
    for (auto& [host, q] : waiting) {
      if (q.empty())
        continue;
      int g;
      size_t room = 0;
      {
        auto lock = gate_lock();
        g = gate().home_group(host, index, &room);
      }
      if (g < 0 || g == static_cast<int>(index))
        continue;
      for (; room > 0 && !q.empty(); --room) {
        auto call = std::move(q.front());
        q.pop_front();
        call->loop_ = g;
        call->handed_over_ = true;
        owner->enqueue(std::move(call));
      }
    }
  }

  // Takes stuck requests off their connections (closed, so the server finds
  // EOF rather than a request when it gets to them) and queues them first
  // for the served connections; raises caps that have been quiet.
  void check(clock::time_point now) {
    hand_over_waiting();
    waiting_count.clear();
    for (auto& [host, q] : waiting)
      if (!q.empty())
        waiting_count[host] = q.size();
    next_check = on_wire > 0 || !waiting_count.empty() ? now + check_every
                                                       : clock::time_point::max();
    auto opened = [this](uintptr_t id) { return opened_for(id); };
    std::vector<uintptr_t> ids;
    {
      auto lock = gate_lock();
      ids = gate().stuck(now, opened, index); // this loop's calls only
      gate().probe(now, waiting_count, opened, index);
    }
    for (auto id : ids) {
      auto* raw = reinterpret_cast<http_call*>(id);
      // The transport counts the new send (outcome.sends), so the rate
      // limiter pays for it.
      if (auto call = carrier(*raw).cancel(raw)) {
        --on_wire;
        dispatch(std::move(call), /*first=*/true);
      }
    }
  }

  void take_incoming() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      batch.swap(incoming);
    }
    for (auto& call : batch)
      dispatch(std::move(call));
    batch.clear();
  }

  void run() {
    transport* both[] = {curl.get(), native.get()};
    epoll_event events[256];
    while (!stopping.load(std::memory_order_relaxed)) {
      int wait_ms = -1;
      auto until = std::min({curl->next_deadline(), native->next_deadline(),
                             next_check});
      if (held_back) {
        wait_ms = 0; // calls wait for this pass only
      } else if (until != clock::time_point::max()) {
        // Rounded up: waking a hair early would spin until the deadline.
        auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now());
        wait_ms = left.count() > 0
                    ? static_cast<int>(std::min<int64_t>(left.count(), 60000))
                    : 0;
      }
      if (ramp_wait && !held_back) // the ramp's next step (host_gate::params)
        wait_ms = wait_ms < 0 ? 1 : std::min(wait_ms, 1);
      int n = epoll_wait(epfd, events, 256, wait_ms);
      launched = 0;
      held_back = false;
      ramp_wait = false;
      if (n < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      bool woken = false;
      for (int i = 0; i < n; ++i) {
        // The own client tags its sockets with a generation in the upper
        // half; libcurl's and the wake-up fd carry 0 there.
        auto tag = events[i].data.u64;
        if ((tag >> 32) != 0)
          native->on_event(tag, events[i].events);
        else if (events[i].data.fd == wakefd)
          woken = true;
        else
          curl->on_event(tag, events[i].events);
      }
      if (clock::now() >= curl->next_deadline())
        curl->on_deadline(clock::now());
      // New transfers last: a pooled connection whose close came in the
      // same batch is gone by then, and costs no re-send.
      if (woken) {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(wakefd, &v, sizeof(v));
        take_incoming();
      }
      if (clock::now() >= native->next_deadline())
        native->on_deadline(clock::now());
      for (auto* t : both)
        t->collect();
      if (clock::now() >= next_check)
        check(clock::now());
      pump();
    }
    for (auto* t : both)
      t->stop();
    waiting.clear();
  }
};

http_engine::http_engine(size_t io_threads) : gate_(std::make_unique<host_gate>()) {
  io_threads = std::max<size_t>(io_threads, 1);
  for (size_t i = 0; i < io_threads; ++i) {
    auto d = std::make_unique<loop>();
    d->owner = this;
    d->index = static_cast<unsigned>(i);
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->epfd < 0 || d->wakefd < 0)
      throw std::runtime_error("http_engine: cannot initialise epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = d->wakefd;
    epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &ev);
    d->curl = std::make_unique<curl_transport>(d->epfd, *d);
    d->native = std::make_unique<native_transport>(d->epfd, *d);
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
  loops_.clear(); // transfers still active were dropped by run()
}

void http_engine::submit(std::shared_ptr<http_call> call) {
  // A call that ran on an engine with more loops starts over here.
  if (call->loop_ < 0 || static_cast<size_t>(call->loop_) >= loops_.size())
    call->loop_ = static_cast<int>(next_loop_.fetch_add(1) % loops_.size());
  in_flight_.fetch_add(1);
  enqueue(std::move(call));
}

void http_engine::enqueue(std::shared_ptr<http_call> call) {
  auto& d = *loops_[static_cast<size_t>(call->loop_)];
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
