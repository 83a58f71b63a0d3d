// The request actor: lends its http_call to the engine for one attempt and
// classifies the outcome the I/O thread hands back in http_done.
#include "actors/request/request_actor.hpp"

#include "caf/all.hpp"

#include "actors/request/openai_protocol.hpp"

namespace evo {

request_impl::behavior_type
request_actor_behavior(request_impl::stateful_pointer<request_state> self,
               http_engine* engine, request_target target) {
  auto& st = self->state;
  st.engine = engine;
  st.base_url = std::move(target.base_url);
  st.secrets = std::move(target.secrets);
  st.call = std::make_shared<http_call>(target.http);
  return {
    [self](work_item& item) -> caf::result<attempt_result> {
      auto& st = self->state;
      if (st.busy)
        return caf::make_error(caf::sec::runtime_error,
                               "request actor got a second work item");
      st.busy = true;
      st.call->prepare_post(st.base_url + endpoint_path(item.endpoint),
                            std::move(item.body));
      st.current = std::move(item);
      // Runs on the I/O thread: the outcome travels in the message, so the
      // actor never reads what that thread wrote. The handle keeps this
      // actor alive only while the transfer runs; the engine drops on_done
      // right after calling it.
      st.call->on_done = [hdl = caf::actor_cast<request_impl>(self),
                          call = st.call.get()] {
        caf::anon_send(hdl, http_done_atom_v, std::move(call->outcome()));
      };
      st.promise = self->make_response_promise<attempt_result>();
      st.engine->submit(st.call);
      return st.promise;
    },
    [self](http_done_atom, http_outcome& outcome) {
      auto& st = self->state;
      if (!st.busy)
        return;
      st.busy = false;
      st.promise.deliver(classify_outcome(st.current, outcome, st.secrets));
      // The body's buffer goes back to the idle call (the I/O thread is
      // done with it until the next submit), so a warm call allocates none.
      outcome.body.clear();
      st.call->outcome().body.swap(outcome.body);
    },
  };
}

} // namespace evo
