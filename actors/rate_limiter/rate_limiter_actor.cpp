#include "actors/rate_limiter/rate_limiter_actor.hpp"

#include "caf/all.hpp"

namespace evo {

namespace {

using self_ptr = rate_limiter_impl::stateful_pointer<rate_limiter_state>;

// Serves waiting callers in order while tokens last (as of `now`); arms one
// timer for the next token otherwise.
void serve(self_ptr self, token_bucket::clock::time_point now) {
  auto& st = self->state;
  while (!st.waiting.empty()) {
    auto& [promise, want] = st.waiting.front();
    auto got = st.bucket->take(want, now);
    if (got == 0)
      break;
    promise.deliver(got);
    st.waiting.pop_front();
  }
  if (!st.waiting.empty() && !st.timer_armed) {
    st.timer_armed = true;
    st.due = now + st.bucket->time_until_token(now);
    auto wait = st.due - token_bucket::clock::now(); // `now` may be behind
    self->delayed_send(self, std::max(wait, token_bucket::clock::duration{0}),
                       refill_atom_v);
  }
}

} // namespace

rate_limiter_impl::behavior_type
rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
             double rate, double burst) {
  self->state.bucket.emplace(rate, burst, token_bucket::clock::now());
  return {
    [self](acquire_atom, uint32_t want) -> caf::result<uint32_t> {
      auto& st = self->state;
      if (want == 0)
        want = 1;
      if (st.waiting.empty()) {
        if (auto got = st.bucket->take(want, token_bucket::clock::now()))
          return got;
      }
      auto promise = self->make_response_promise<uint32_t>();
      st.waiting.emplace_back(promise, want);
      serve(self, token_bucket::clock::now());
      return promise;
    },
    [self](refill_atom) {
      auto& st = self->state;
      st.timer_armed = false;
      // Refill as of the due time, so the timer's lateness is not lost,
      // but catch up at most one token interval: a timer far behind must
      // not release a burst of grants back to back.
      auto now = token_bucket::clock::now();
      auto period = std::chrono::duration_cast<token_bucket::clock::duration>(
        std::chrono::duration<double>(1.0 / st.bucket->rate()));
      serve(self, std::min(now, std::max(st.due, now - period)));
    },
  };
}

} // namespace evo
