// Actor shell around one http_call: exactly one HTTP attempt per work item,
// carried out by the shared http_engine; the actor never blocks or sleeps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "messages/interfaces.hpp"
#include "actors/request/http_engine.hpp"

namespace evo {

/// A request actor's own handle: the public interface and the wake-up of
/// its I/O thread.
using request_impl = request_actor::extend<
  // The I/O thread hands over what the current transfer produced.
  caf::reacts_to<http_done_atom, http_outcome>>;

/// Where a request actor sends its attempts.
struct request_target {
  std::string base_url; ///< normalised, ends with /v1
  http_options http;    ///< timeout, TLS, headers (the auth header is secret)
  /// Redacted from any server text in failure reasons (secret_values).
  std::vector<std::string> secrets;
};

struct request_state {
  static inline const char* name = "request";
  std::shared_ptr<http_call> call;
  http_engine* engine = nullptr;
  std::string base_url;
  std::vector<std::string> secrets;
  work_item current; ///< job/index/attempt of the transfer in flight
  caf::typed_response_promise<attempt_result> promise;
  bool busy = false;
};

/// `engine` must outlive the actor.
request_impl::behavior_type
request_actor_behavior(request_impl::stateful_pointer<request_state> self,
               http_engine* engine, request_target target);

} // namespace evo
