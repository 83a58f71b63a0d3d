#include "app/stop_signals.hpp"

#include "app/client.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace evo {

namespace {

std::mutex handler_mtx;
std::function<void(int, int)> handler; // guarded by handler_mtx
std::atomic<int> first_signal{0};

void wait_for_signals(sigset_t set) {
  int count = 0;
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0)
      continue;
    ++count;
    int expected = 0;
    first_signal.compare_exchange_strong(expected, sig);
    // Called under the lock: once on_stop_signal({}) returned, the handler
    // (and what it points to) is no longer used.
    std::lock_guard<std::mutex> guard{handler_mtx};
    // No run to stop, or a third signal: the user means it.
    if (!handler || count > 2)
      std::_Exit(exit_status_for_signal(sig));
    handler(sig, count);
  }
}

} // namespace

void install_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread{wait_for_signals, set}.detach();
}

void on_stop_signal(std::function<void(int, int)> fn) {
  std::lock_guard<std::mutex> guard{handler_mtx};
  handler = std::move(fn);
}

stop_signal_scope::stop_signal_scope(client& c) {
  on_stop_signal([&c](int, int count) { c.stop(count > 1); });
}

stop_signal_scope::~stop_signal_scope() {
  on_stop_signal({});
}

int stop_signal() {
  return first_signal.load();
}

} // namespace evo
