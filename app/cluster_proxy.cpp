// The proxy of one lent request actor (see cluster_proxy.hpp).
#include "app/cluster_proxy.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "actors/coordinator/coordinator_actor.hpp" // error_text

namespace evo {

using std::chrono::milliseconds;

std::string seconds_text(milliseconds d) {
  return fmt::format("{} s", std::chrono::duration<double>(d).count());
}

void proxy_state::answer_error(const std::string& why) {
  if (answered)
    return;
  answered = true;
  promise.deliver(caf::make_error(caf::sec::runtime_error, why));
}

caf::behavior worker_proxy(caf::stateful_actor<proxy_state>* self,
                           worker_actor remote, caf::actor link,
                           std::string worker, uint64_t lease, uint32_t slot,
                           size_t node, uint64_t gen, milliseconds deadline) {
  auto& st = self->state;
  st.remote = std::move(remote);
  st.link = std::move(link);
  st.worker = std::move(worker);
  st.lease = lease;
  st.slot = slot;
  st.node = node;
  st.gen = gen;
  st.deadline = deadline;
  // The link stops proxies of a node it declared dead (or at the end).
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.answer_error("worker " + self->state.worker
                             + " declared dead");
    self->quit(msg.reason);
  });
  return {
    [self](work_item& item) -> caf::result<attempt_result> {
      auto& st = self->state;
      if (st.pending || st.retired)
        return caf::make_error(caf::sec::runtime_error,
                               "worker " + st.worker + ": slot busy");
      st.pending = true;
      st.answered = false;
      st.job = item.job;
      st.index = item.index;
      auto seq = ++st.seq;
      st.promise = self->make_response_promise<attempt_result>();
      self->request(st.remote, caf::infinite, work_atom_v, st.lease, st.slot,
                    std::move(item))
        .then(
          [self](attempt_result& r) {
            auto& st = self->state;
            st.pending = false;
            if (!st.answered) {
              st.answered = true;
              st.promise.deliver(std::move(r));
              return;
            }
            // Already answered with an error and re-queued: never twice.
            spdlog::info("worker {}: late answer for request {} of job {} "
                         "dropped (it was re-queued)",
                         st.worker, st.index, st.job);
            self->send(st.link, caf::ok_atom_v, st.node, st.gen, st.slot);
            self->quit();
          },
          [self](caf::error& err) {
            auto& st = self->state;
            st.pending = false;
            st.answer_error("worker " + st.worker + ": " + error_text(err));
            self->send(st.link, caf::delete_atom_v, st.node, st.gen, st.slot);
            self->quit();
          });
      self->delayed_send(self, st.deadline, caf::timeout_atom_v, seq);
      return st.promise;
    },
    [self](caf::timeout_atom, uint64_t seq) {
      auto& st = self->state;
      if (seq != st.seq || st.answered)
        return;
      st.retired = true;
      spdlog::warn("worker {}: no answer within {} for request {} of job "
                   "{}; re-queued, worker suspect",
                   st.worker, seconds_text(st.deadline), st.index, st.job);
      st.answer_error("worker " + st.worker + ": no answer within "
                      + seconds_text(st.deadline));
      self->send(st.link, caf::timeout_atom_v, st.node, st.gen, st.slot);
    },
    [](http_done_atom) {
      // nop: part of request_actor, used only by local request actors
    },
  };
}

} // namespace evo
