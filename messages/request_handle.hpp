// The public handle of a request actor. It travels inside messages (a worker
// node lends its request actors to a head in worker_pool), so it is declared
// before the type-id block that registers it; interfaces.hpp lists it with
// the other interfaces.
#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "messages/work.hpp"

namespace evo {

/// Makes exactly one HTTP attempt per work item; holds no run state.
using request_actor = caf::typed_actor<
  // Performs the attempt and answers with its classified outcome.
  caf::replies_to<work_item>::with<attempt_result>>;

} // namespace evo
