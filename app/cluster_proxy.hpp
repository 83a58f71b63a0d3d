// Head side: the proxy of one request actor a worker node lent. The
// coordinator sees it as a request actor; it forwards each attempt to the
// worker under the head's lease, gives it a deadline, answers an error when
// the deadline passes or the node is declared dead (the coordinator puts
// the item back in the queue), and drops an answer that comes later.
// Include only from CAF translation units.
#pragma once

#include <chrono>
#include <string>

#include "caf/all.hpp"

#include "messages/interfaces.hpp"

namespace evo {

struct proxy_state {
  static inline const char* name = "worker_proxy";
  worker_actor remote;
  caf::actor link;
  std::string worker;
  uint64_t lease = 0;
  uint32_t slot = 0;
  size_t node = 0;
  uint64_t gen = 0;
  std::chrono::milliseconds deadline{0};
  caf::typed_response_promise<attempt_result> promise;
  bool pending = false;  ///< an attempt is at the worker
  bool answered = true;  ///< the coordinator has its answer for it
  bool retired = false;  ///< the coordinator dropped this proxy
  uint64_t seq = 0;
  uint32_t job = 0;
  uint64_t index = 0;

  /// Answers the coordinator with an error, once.
  void answer_error(const std::string& why);
};

/// Messages to `link`: (timeout_atom, node, gen, slot) when the deadline
/// passed; (ok_atom, node, gen, slot) when the late answer came, so the slot
/// may get a new proxy; (delete_atom, node, gen, slot) when the worker
/// answered with an error. The proxy quits after the last two.
caf::behavior worker_proxy(caf::stateful_actor<proxy_state>* self,
                           worker_actor remote, caf::actor link,
                           std::string worker, uint64_t lease, uint32_t slot,
                           size_t node, uint64_t gen,
                           std::chrono::milliseconds deadline);

/// "5.5 s"
std::string seconds_text(std::chrono::milliseconds d);

} // namespace evo
