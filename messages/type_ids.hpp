// CAF type ids and atoms of evoselfcode. Include only from .cpp files that
// talk CAF (actor shells, wiring): it pulls in CAF headers.
#pragma once

#include "caf/type_id.hpp"

#include "messages/cluster.hpp"
#include "messages/http_outcome.hpp"

#include "messages/stats.hpp"
#include "messages/work.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(evo, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(evo, (evo::work_item))
  CAF_ADD_TYPE_ID(evo, (evo::attempt_result))
  CAF_ADD_TYPE_ID(evo, (evo::write_batch))
  CAF_ADD_TYPE_ID(evo, (evo::write_report))
  CAF_ADD_TYPE_ID(evo, (evo::failure_record))
  CAF_ADD_TYPE_ID(evo, (evo::job_output))
  CAF_ADD_TYPE_ID(evo, (evo::job_stats))
  CAF_ADD_TYPE_ID(evo, (evo::run_summary))
  CAF_ADD_TYPE_ID(evo, (evo::endpoint_kind))
  CAF_ADD_TYPE_ID(evo, (evo::failure_kind))
  CAF_ADD_TYPE_ID(evo, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(evo, (evo::worker_join))
  CAF_ADD_TYPE_ID(evo, (evo::worker_pool))
  CAF_ADD_TYPE_ID(evo, (evo::transport_error))
  CAF_ADD_TYPE_ID(evo, (evo::http_outcome))
  CAF_ADD_TYPE_ID(evo, (evo::request_actor))

  CAF_ADD_ATOM(evo, evo, acquire_atom, "acquire")
  CAF_ADD_ATOM(evo, evo, refill_atom, "refill")
  CAF_ADD_ATOM(evo, evo, reserve_atom, "reserve")
  CAF_ADD_ATOM(evo, evo, correct_atom, "correct")
  CAF_ADD_ATOM(evo, evo, run_atom, "run")
  CAF_ADD_ATOM(evo, evo, retry_atom, "retry")
  CAF_ADD_ATOM(evo, evo, tick_atom, "tick")
  CAF_ADD_ATOM(evo, evo, http_done_atom, "http_done")
  CAF_ADD_ATOM(evo, evo, open_atom, "open")
  CAF_ADD_ATOM(evo, evo, join_atom, "join")
  CAF_ADD_ATOM(evo, evo, add_pool_atom, "add_pool")
  CAF_ADD_ATOM(evo, evo, grace_atom, "grace")
  CAF_ADD_ATOM(evo, evo, stop_atom, "stop")
  CAF_ADD_ATOM(evo, evo, heartbeat_atom, "heartbeat")
  CAF_ADD_ATOM(evo, evo, work_atom, "work")
CAF_END_TYPE_ID_BLOCK(evo)
