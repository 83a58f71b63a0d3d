// The floor of the HTTP path: a bare single-threaded libcurl multi loop
// (curl_multi_socket_action + epoll, as actors/request/http_engine does) that
// keeps C POSTs in flight until N are done and throws the answers away.
// tools/bench/http_path.sh runs it next to wrk and the pipeline, so the cost
// of everything the pipeline does on top of libcurl shows in one table.
//
//   evo-bare-curl URL C N    prints "bare_curl: <requests/s> req/s, <failed> failed"
#include <curl/curl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct loop_state {
  CURLM* multi = nullptr;
  int epfd = -1;
  long timeout_ms = -1;
  clock_type::time_point deadline;
};

int on_socket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
  auto* st = static_cast<loop_state*>(userp);
  epoll_event ev{};
  ev.data.fd = s;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(st->epfd, EPOLL_CTL_DEL, s, nullptr);
    curl_multi_assign(st->multi, s, nullptr);
    return 0;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u)
              | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  if (socketp == nullptr) {
    curl_multi_assign(st->multi, s, st);
    if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, s, &ev) != 0)
      epoll_ctl(st->epfd, EPOLL_CTL_MOD, s, &ev);
  } else {
    epoll_ctl(st->epfd, EPOLL_CTL_MOD, s, &ev);
  }
  return 0;
}

int on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* st = static_cast<loop_state*>(userp);
  st->timeout_ms = timeout_ms;
  if (timeout_ms >= 0)
    st->deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s URL CONCURRENCY REQUESTS\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const long c = std::atol(argv[2]);
  const long n = std::atol(argv[3]);
  if (c < 1 || n < c) {
    std::fprintf(stderr, "need CONCURRENCY >= 1 and REQUESTS >= CONCURRENCY\n");
    return 2;
  }
  // The body generate-names sends in http_path.sh (l2r, n=1).
  const std::string body =
    R"({"model":"m","prompt":"This is an algorithm function.\n\ndef ","max_tokens":16,"n":1,"temperature":0.8,"top_p":0.95,"stop":["("," ","\n"]})";
  curl_global_init(CURL_GLOBAL_DEFAULT);
  loop_state st;
  st.multi = curl_multi_init();
  st.epfd = epoll_create1(EPOLL_CLOEXEC);
  curl_multi_setopt(st.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(st.multi, CURLMOPT_SOCKETDATA, &st);
  curl_multi_setopt(st.multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(st.multi, CURLMOPT_TIMERDATA, &st);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  std::vector<CURL*> handles;
  long started = 0, done = 0, failed = 0;
  auto t0 = clock_type::now();
  for (long i = 0; i < c; ++i) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    handles.push_back(e);
    curl_multi_add_handle(st.multi, e);
    ++started;
  }
  int running = 0;
  epoll_event events[256];
  auto give_up = t0 + std::chrono::seconds(600); // bounded, whatever happens
  while (done < n && clock_type::now() < give_up) {
    int wait_ms = 1000;
    if (st.timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    st.deadline - clock_type::now()).count();
      wait_ms = left > 0 ? static_cast<int>(std::min<long>(left, 1000)) : 0;
    }
    int k = epoll_wait(st.epfd, events, 256, wait_ms);
    for (int i = 0; i < k; ++i) {
      int mask = 0;
      if (events[i].events & EPOLLIN)
        mask |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP))
        mask |= CURL_CSELECT_ERR;
      curl_multi_socket_action(st.multi, events[i].data.fd, mask, &running);
    }
    if (st.timeout_ms >= 0 && clock_type::now() >= st.deadline) {
      st.timeout_ms = -1;
      curl_multi_socket_action(st.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    int pending = 0;
    while (CURLMsg* msg = curl_multi_info_read(st.multi, &pending)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      ++done;
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      if (msg->data.result != CURLE_OK || status != 200)
        ++failed;
      CURL* e = msg->easy_handle;
      curl_multi_remove_handle(st.multi, e);
      if (started < n) {
        curl_multi_add_handle(st.multi, e);
        ++started;
      }
    }
  }
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  for (auto* e : handles) {
    curl_multi_remove_handle(st.multi, e);
    curl_easy_cleanup(e);
  }
  curl_slist_free_all(headers);
  curl_multi_cleanup(st.multi);
  ::close(st.epfd);
  std::printf("bare_curl: %.0f req/s, %ld failed, %ld of %ld done\n",
              static_cast<double>(done) / secs, failed, done, n);
  return done == n && failed == 0 ? 0 : 1;
}
