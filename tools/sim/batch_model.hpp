// The simulator's model of a continuous-batching GPU server (vLLM, SGLang):
// one engine thread runs decode steps over the admitted sequences; a step
// takes step_base_ms + step_per_seq_ms x active sequences (plus the prefill
// of sequences admitted at that step); each step gives every active sequence
// one token. At most the current KV capacity of sequences are active; the
// rest wait in a FIFO queue; beyond overload_queue queued requests a request
// is refused at once. Plain C++: no HTTP here.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tools/sim/capacity_schedule.hpp"

namespace evo::sim {

struct batch_params {
  double step_base_ms = 10;
  double step_per_seq_ms = 0.25;
  double prefill_per_token_ms = 0;  // per prompt token, added to the step that admits the sequence
  int kv_capacity = 64;             // sequences at once (when no schedule entry applies)
  int overload_queue = 0;           // queued requests beyond which a request is refused; 0 = never
  capacity_schedule schedule;
  // > 0: the schedule's second 0 is the first moment the engine holds this
  // many sequences (active + queued), not the start; kv_capacity before.
  // Tests anchor a capacity drop to the load it must meet, not to a clock
  // that a slow client (sanitizers, a loaded machine) would miss.
  int schedule_from_load = 0;
};

class batch_engine {
 public:
  explicit batch_engine(batch_params p);
  ~batch_engine();  // stops
  batch_engine(const batch_engine&) = delete;
  batch_engine& operator=(const batch_engine&) = delete;

  enum class outcome { done, overloaded, stopping };
  struct arrival {
    int active = 0;  // active sequences when the request arrived
    int queued = 0;  // requests waiting when it arrived
  };

  // Blocks until `tokens` decode steps have run for the request (its
  // `sequences` choices decode side by side), or it is refused, or stop().
  outcome run(int sequences, int64_t tokens, int64_t prompt_tokens, arrival& at);

  void stop();  // idempotent; wakes every waiting request
  int active_sequences() const;
  int queued_requests() const;

 private:
  struct job {
    int sequences;
    int64_t remaining;
    int64_t prompt_tokens;
    bool done = false;
  };
  void loop();
  double step_ms(int active) const;

  batch_params p_;
  std::chrono::steady_clock::time_point t0_;
  bool schedule_started_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the engine waits for work
  std::condition_variable done_cv_;  // requests wait for their job
  std::deque<job*> queue_;
  std::vector<job*> active_;
  int active_seqs_ = 0;
  int queued_seqs_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace evo::sim
