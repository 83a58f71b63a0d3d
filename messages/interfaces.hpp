// Every actor interface of evoselfcode, in one place: read this file to learn
// the whole protocol. A work item goes coordinator -> rate limiter (token) ->
// request actor (one HTTP attempt) -> coordinator (retry or accept) -> writer.
//
// These are the handles others receive: public handlers only. An actor's
// internal messages (timers, wake-ups it sends itself) live on an extended
// type in its own header (`<name>_impl`, typed_actor<...>::extend<...>), so
// nothing outside the actor, a remote head included, can send them.
#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "messages/request_handle.hpp" // request_actor
#include "messages/type_ids.hpp"

namespace evo {

/// Token bucket (and token budget) shared by everything that sends
/// requests in one run. Internal (rate_limiter_impl): refill.
using rate_limiter_actor = caf::typed_actor<
  // Asks for up to N tokens; answers with 1..N once at least one is available
  // (FIFO among waiting callers).
  caf::replies_to<acquire_atom, uint32_t>::with<uint32_t>,
  // Asks for up to N tokens, each with a reservation of E model tokens in
  // the token budget (api.concurrency.tokens_per_minute); answers with
  // (1..N, the reservation's id) once the rate and the budget allow.
  caf::replies_to<reserve_atom, uint32_t, uint64_t>::with<uint32_t, uint64_t>,
  // One request of reservation `id` that reserved R tokens used U (its
  // answer's usage): the budget counts U instead.
  caf::reacts_to<correct_atom, uint64_t, uint64_t, uint64_t>>;

// request_actor (messages/request_handle.hpp): one HTTP attempt per work
// item. Internal (request_impl): http_done with the transfer's outcome.

/// Extracts, filters, dedupes and appends records to a job's files.
using writer_actor = caf::typed_actor<
  // Opens (or reopens) a job's output folder; answers with the number of
  // names the folder already holds (loaded from its hash table).
  caf::replies_to<open_atom, job_output>::with<uint64_t>,
  // Writes the kept names of finished requests; answers once they are on
  // disk.
  caf::replies_to<write_batch>::with<write_report>,
  // Records a request that failed for good; answers once it is on disk.
  caf::replies_to<failure_record>::with<uint64_t>>;

/// Owns the plan of a run: dispatch, retries, accounting.
/// Internal (coordinator_impl): retry, tick, grace.
using coordinator_actor = caf::typed_actor<
  // Runs the plan to completion; answers with the per-job statistics.
  caf::replies_to<run_atom>::with<run_summary>,
  // Request actors joining the run (a worker node that connected late or
  // came back).
  caf::reacts_to<add_pool_atom, worker_pool>,
  // Stops the run (a signal): false = send nothing more and let attempts in
  // flight finish for plan.stop_grace; true = at once. The run's answer is
  // then a summary marked interrupted.
  caf::reacts_to<stop_atom, bool>>;

/// Published by a worker node: lends its request actors to one head at a
/// time.
using worker_actor = caf::typed_actor<
  // Checks the head's protocol version, token, model and that no other head
  // holds the worker; answers with a lease on the pool.
  caf::replies_to<join_atom, worker_join>::with<worker_pool>,
  // The head holding this lease is alive; answers the lease, or an error
  // when it is no longer this head's turn.
  caf::replies_to<heartbeat_atom, uint64_t>::with<uint64_t>,
  // One attempt on request actor `slot` under `lease`: checked against the
  // worker's own limits (model, n, max_tokens), then posted.
  caf::replies_to<work_atom, uint64_t, uint32_t, work_item>::with<
    attempt_result>>;

} // namespace evo
