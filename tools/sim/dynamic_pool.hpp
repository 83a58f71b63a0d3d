// A model of newer cpp-httplib's ThreadPool(base, max) for the simulator's
// --http-dynamic-threads: `base` fixed threads; when a connection is queued
// while no fixed thread is idle, a temporary thread is started (up to
// `dynamic` of them) which serves queued connections until the queue is
// empty, then exits. A fixed thread counts as idle until it has taken a
// job, so a burst of connections faster than the threads wake up is queued
// rather than given temporary threads. This is a model (the real pool's
// accounting is not available here), labelled as such in the README.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace evo::sim {

class dynamic_pool : public httplib::TaskQueue {
 public:
  dynamic_pool(size_t base, size_t dynamic) : max_dynamic_(dynamic), idle_(base) {
    for (size_t i = 0; i < base; ++i) fixed_.emplace_back([this] { fixed_loop(); });
  }
  ~dynamic_pool() override = default;

  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lk(mu_);
    jobs_.push_back(std::move(fn));
    if (idle_ == 0 && running_dynamic_ < max_dynamic_) {
      ++running_dynamic_;
      temporary_.emplace_back([this] { dynamic_loop(); });
    }
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : fixed_) t.join();
    std::vector<std::thread> temp;
    {
      std::lock_guard<std::mutex> lk(mu_);
      temp.swap(temporary_);
    }
    for (auto& t : temp) t.join();
  }

 private:
  void fixed_loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return shutdown_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // shutdown with nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
        --idle_;
      }
      fn();
      std::lock_guard<std::mutex> lk(mu_);
      ++idle_;
    }
  }
  void dynamic_loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (jobs_.empty()) {
          --running_dynamic_;
          return;
        }
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  const size_t max_dynamic_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> fixed_, temporary_;
  size_t idle_;
  size_t running_dynamic_ = 0;
  bool shutdown_ = false;
};

}  // namespace evo::sim
