#include "actors/request/request_actor.hpp"

#include "caf/all.hpp"

#include "actors/request/openai_protocol.hpp"

namespace evo {

request_impl::behavior_type
request_worker(request_impl::stateful_pointer<request_state> self,
               http_engine* engine, request_target target) {
  auto& st = self->state;
  st.engine = engine;
  st.base_url = std::move(target.base_url);
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
      // The handle keeps this actor alive only while the transfer runs;
      // the engine drops on_done right after calling it.
      st.call->on_done = [hdl = caf::actor_cast<request_impl>(self)] {
        caf::anon_send(hdl, http_done_atom_v);
      };
      st.promise = self->make_response_promise<attempt_result>();
      st.engine->submit(st.call);
      return st.promise;
    },
    [self](http_done_atom) {
      auto& st = self->state;
      if (!st.busy)
        return;
      st.busy = false;
      st.promise.deliver(classify_outcome(st.current, st.call->outcome()));
    },
  };
}

} // namespace evo
