// The continuous-batching engine of the simulator (see batch_model.hpp).
#include "tools/sim/batch_model.hpp"

#include <algorithm>

namespace evo::sim {

batch_engine::batch_engine(batch_params p)
    : p_(std::move(p)),
      t0_(std::chrono::steady_clock::now()),
      schedule_started_(p_.schedule_from_load <= 0),
      thread_([this] { loop(); }) {}

batch_engine::~batch_engine() { stop(); }

void batch_engine::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int batch_engine::active_sequences() const {
  std::lock_guard<std::mutex> lk(mu_);
  return active_seqs_;
}

int batch_engine::queued_requests() const {
  std::lock_guard<std::mutex> lk(mu_);
  return int(queue_.size());
}

double batch_engine::step_ms(int active) const { return p_.step_base_ms + p_.step_per_seq_ms * active; }

batch_engine::outcome batch_engine::run(int sequences, int64_t tokens, int64_t prompt_tokens, arrival& at) {
  job j{std::max(1, sequences), std::max<int64_t>(1, tokens), prompt_tokens};
  std::unique_lock<std::mutex> lk(mu_);
  at.active = active_seqs_;
  at.queued = int(queue_.size());
  if (stopping_) return outcome::stopping;
  if (p_.overload_queue > 0 && int(queue_.size()) >= p_.overload_queue) return outcome::overloaded;
  queue_.push_back(&j);
  queued_seqs_ += j.sequences;
  if (!schedule_started_ && active_seqs_ + queued_seqs_ >= p_.schedule_from_load) {
    schedule_started_ = true;
    t0_ = std::chrono::steady_clock::now();
  }
  work_cv_.notify_one();
  done_cv_.wait(lk, [&] { return j.done || stopping_; });
  if (j.done) return outcome::done;
  // Stopping: take the job out of whichever list holds it.
  if (std::find(queue_.begin(), queue_.end(), &j) != queue_.end()) queued_seqs_ -= j.sequences;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), &j), queue_.end());
  active_.erase(std::remove(active_.begin(), active_.end(), &j), active_.end());
  return outcome::stopping;
}

void batch_engine::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    work_cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !active_.empty(); });
    if (stopping_) break;
    // Admit at the step boundary, FIFO, while the capacity allows (a
    // request wider than the capacity runs alone rather than never).
    const double t_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const int cap = schedule_started_ ? capacity_at(p_.schedule, t_s, p_.kv_capacity) : p_.kv_capacity;
    double prefill_ms = 0;
    while (!queue_.empty() && (active_seqs_ + queue_.front()->sequences <= cap || active_seqs_ == 0)) {
      job* j = queue_.front();
      queue_.pop_front();
      queued_seqs_ -= j->sequences;
      active_.push_back(j);
      active_seqs_ += j->sequences;
      prefill_ms += p_.prefill_per_token_ms * double(j->prompt_tokens);
    }
    if (active_.empty()) continue;
    const auto step = std::chrono::duration<double, std::milli>(step_ms(active_seqs_) + prefill_ms);
    // The step runs without the lock: arrivals queue meanwhile.
    if (work_cv_.wait_for(lk, step, [&] { return stopping_; })) break;
    bool finished = false;
    for (size_t i = 0; i < active_.size();) {
      job* j = active_[i];
      if (--j->remaining > 0) {
        ++i;
        continue;
      }
      j->done = true;
      finished = true;
      active_seqs_ -= j->sequences;
      active_[i] = active_.back();
      active_.pop_back();
    }
    if (finished) done_cv_.notify_all();
  }
}

}  // namespace evo::sim
