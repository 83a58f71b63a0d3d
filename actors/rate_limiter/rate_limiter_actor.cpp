#include "actors/rate_limiter/rate_limiter_actor.hpp"

#include "caf/all.hpp"

#include <string>

namespace evo {

namespace {

using self_ptr = rate_limiter_impl::stateful_pointer<rate_limiter_state>;
using clock = token_bucket::clock;

// Grants the front waiter what the bucket and the budget allow at `now`;
// false when it has to wait.
bool grant_front(self_ptr self, clock::time_point now) {
  auto& st = self->state;
  auto& w = st.waiting.front();
  auto n = w.want;
  bool budgeted = st.budget && w.reserves;
  if (budgeted) {
    if (w.each > st.budget->budget()) {
      // Config checks refuse this before a run; never wait for ever.
      w.reserved.deliver(caf::make_error(
        caf::sec::runtime_error,
        "one request reserves " + std::to_string(w.each)
          + " tokens, more than api.concurrency.tokens_per_minute ("
          + std::to_string(st.budget->budget()) + ")"));
      return true;
    }
    n = st.budget->fits(n, w.each, now);
  }
  if (n > 0 && st.bucket)
    n = st.bucket->take(n, now);
  if (n == 0)
    return false;
  if (!w.reserves) {
    w.acquired.deliver(n);
    return true;
  }
  uint64_t id = budgeted ? st.budget->reserve(n, w.each, now) : 0;
  w.reserved.deliver(n, id);
  return true;
}

// Serves waiting callers in order while tokens last (as of `now`); arms one
// timer for the next token otherwise (earlier than an armed one if needed:
// a correction may have made the front waiter another one).
void serve(self_ptr self, clock::time_point now) {
  auto& st = self->state;
  while (!st.waiting.empty() && grant_front(self, now))
    st.waiting.pop_front();
  if (st.waiting.empty())
    return;
  clock::duration wait{0};
  if (st.bucket)
    wait = st.bucket->time_until_token(now);
  auto& w = st.waiting.front();
  if (st.budget && w.reserves)
    wait = std::max(wait, st.budget->time_until(w.each, now));
  auto due = now + wait;
  if (st.timer_armed && due >= st.due)
    return;
  st.timer_armed = true;
  st.due = due;
  auto left = st.due - clock::now(); // `now` may be behind
  self->delayed_send(self, std::max(left, clock::duration{0}), refill_atom_v,
                     ++st.timer_generation);
}

void enqueue(self_ptr self, rate_limiter_state::waiter w) {
  auto& st = self->state;
  st.waiting.push_back(std::move(w));
  if (st.waiting.size() == 1)
    serve(self, clock::now());
}

} // namespace

rate_limiter_impl::behavior_type
rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
             double rate, double burst, uint64_t tokens_per_minute) {
  if (rate > 0)
    self->state.bucket.emplace(rate, burst, clock::now());
  if (tokens_per_minute > 0)
    self->state.budget.emplace(tokens_per_minute);
  return {
    [self](acquire_atom, uint32_t want) -> caf::result<uint32_t> {
      rate_limiter_state::waiter w;
      w.acquired = self->make_response_promise<uint32_t>();
      w.want = want == 0 ? 1 : want;
      auto promise = w.acquired;
      enqueue(self, std::move(w));
      return promise;
    },
    [self](reserve_atom, uint32_t want,
           uint64_t each) -> caf::result<uint32_t, uint64_t> {
      rate_limiter_state::waiter w;
      w.reserved = self->make_response_promise<uint32_t, uint64_t>();
      w.reserves = true;
      w.want = want == 0 ? 1 : want;
      w.each = each;
      auto promise = w.reserved;
      enqueue(self, std::move(w));
      return promise;
    },
    [self](correct_atom, uint64_t id, uint64_t reserved, uint64_t used) {
      auto& st = self->state;
      if (!st.budget)
        return;
      auto now = clock::now();
      st.budget->correct(id, reserved, used, now);
      if (!st.waiting.empty())
        serve(self, now);
    },
    [self](refill_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.timer_generation)
        return; // an earlier timer replaced this one
      auto now = clock::now();
      st.timer_armed = false;
      // Refill as of the due time, so the timer's lateness is not lost,
      // but catch up at most one token interval: a timer far behind must
      // not release a burst of grants back to back.
      auto at = now;
      if (st.bucket) {
        auto period = std::chrono::duration_cast<clock::duration>(
          std::chrono::duration<double>(1.0 / st.bucket->rate()));
        at = std::min(now, std::max(st.due, now - period));
      }
      serve(self, at);
    },
  };
}

} // namespace evo
