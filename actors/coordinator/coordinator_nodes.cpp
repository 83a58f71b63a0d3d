// The coordinator's request actors and nodes: actors joining (a worker's
// pool, the local one), dying (replaced when local), the run waiting for
// some when none is left, and each node's adaptive limit fed with the
// answers of its actors. Part of coordinator_state (coordinator_actor.hpp).
#include "actors/coordinator/coordinator_actor.hpp"

#include "caf/all.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace evo {

void coordinator_state::adapt(size_t node, const attempt_result& r) {
  if (!nodes->adaptive() || !running)
    return;
  auto now = elapsed();
  if (r.ok()) {
    nodes->on_success(node, now, r.completion_tokens,
                      static_cast<double>(r.latency_us) / 1e6);
  } else {
    // The server's ways of saying "too much": back off. Other failures
    // (400, 500, resets) say nothing about load.
    auto retry_after = r.retry_after_ms >= 0
                         ? static_cast<double>(r.retry_after_ms) / 1000
                         : -1.0;
    if (r.failure == failure_kind::timeout)
      nodes->on_overload(node, now, retry_after);
    else if (r.failure == failure_kind::http_status
             && (r.http_status == 429 || r.http_status == 503))
      nodes->on_refused(node, now, retry_after);
  }
  apply_limits();
}

void coordinator_state::apply_limits() {
  if (nodes->adaptive())
    sched->set_max_in_flight(
      std::min(plan.max_in_flight, nodes->total_limit()));
}

void coordinator_state::on_actor_lost(const caf::actor_addr& actor,
                                      const caf::error& err) {
  // The request actor is gone (its node died or was cut off): the attempt
  // never completed, so the same attempt goes back to the front of the
  // queue, and the actor is not used again.
  auto n = node_of.find(actor);
  if (n == node_of.end())
    return; // already handled (a down message after the failed request)
  auto node = n->second;
  node_of.erase(n);
  idle.erase(std::remove_if(idle.begin(), idle.end(),
                            [&](const request_actor& a) {
                              return a.address() == actor;
                            }),
             idle.end());
  if (local.erase(actor) > 0 && respawns_left > 0) {
    // A local actor died (a crash, not a lost node): a fresh one takes its
    // place, so the run keeps its pool instead of shrinking.
    --respawns_left;
    auto fresh = respawn();
    if (fresh) {
      spdlog::warn("request actor died ({}); replaced ({} more replacement(s) "
                   "allowed)",
                   error_text(err), respawns_left);
      local.insert(fresh.address());
      self->monitor(fresh);
      node_of.emplace(fresh.address(), node);
      nodes->actor_added(node);
      idle.push_back(std::move(fresh));
    }
  }
  reserved.erase(actor); // the attempt may have reached the server: kept
  auto b = busy.find(actor);
  if (b != busy.end())
    nodes->returned(node);
  if (nodes->actor_lost(node, elapsed()) && nodes->adaptive()) {
    spdlog::info("node {} left: its adaptive limit is dropped",
                 nodes->name(node));
    apply_limits();
  }
  if (b == busy.end()) {
    check_alive();
    return;
  }
  auto it = b->second;
  busy.erase(b);
  sched->lost(it);
  spdlog::warn("request actor lost ({}); re-queueing {} request {}; {} "
               "request actor(s) left",
               error_text(err), sched->job(it.job).spec.name, it.index,
               idle.size() + busy.size());
  check_alive();
  check_stopped();
  pump();
}

void coordinator_state::add_pool(std::vector<request_actor> actors,
                                 const std::string& name,
                                 const std::string& base_url, size_t slots) {
  actors.erase(std::remove(actors.begin(), actors.end(), nullptr),
               actors.end());
  if (actors.empty())
    return;
  auto node = nodes->join(name, base_url, slots, actors.size(),
                          running ? elapsed() : 0.0);
  for (auto& a : actors) {
    self->monitor(a);
    node_of.emplace(a.address(), node);
    idle.push_back(std::move(a));
    started_with_actors = true;
  }
  if (running)
    apply_limits();
  if (!idle.empty() && grace_armed) {
    grace_armed = false;
    ++grace_generation; // the pending grace timer no longer counts
    spdlog::info("request actors back: {} idle", idle.size());
  }
  pump();
}

void coordinator_state::check_alive() {
  if (!running || !idle.empty() || !busy.empty() || grace_armed)
    return;
  if (!plan.actors_may_join) {
    // A local pool is not refilled: waiting would wait for nothing.
    fail(caf::make_error(caf::sec::runtime_error,
                         started_with_actors
                           ? "every request actor died; what was written "
                             "is kept"
                           : "no request actor to send with"));
    return;
  }
  grace_armed = true;
  spdlog::warn("no request actor {}; waiting up to {} s for a worker to join",
               started_with_actors ? "left" : "yet",
               std::chrono::duration<double>(plan.worker_grace).count());
  self->delayed_send(self, plan.worker_grace, grace_atom_v, ++grace_generation);
}

} // namespace evo
