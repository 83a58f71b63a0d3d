// The worker node's actor and process: admits one head at a time (token,
// model, lease), checks each work item against its own limits, posts it
// through its request actors, and drains attempts in flight on SIGTERM.
#include "app/worker.hpp"
#include "actors/request/server_text.hpp"

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "caf/openssl/all.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "actors/request/url.hpp"
#include "app/cluster.hpp"
#include "app/config/config_loader.hpp"
#include "app/config/yaml_schema.hpp"
#include "app/node.hpp"
#include "app/worker_admission.hpp"
#include "tools/sim/sim_server.hpp"

namespace evo {

/// Shared with the main thread, which waits on SIGTERM and then drains.
struct worker_shared {
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
};

struct worker_node_state {
  static inline const char* name = "worker";
  std::optional<head_admission> admission;
  refusal_log refusals;
  item_limits limits;
  std::vector<request_actor> pool;
  std::string worker;   ///< host:port
  std::string base_url; ///< redacted
  std::shared_ptr<worker_shared> shared;
  caf::actor_addr holder; ///< the head actor that holds the lease
  std::string holder_peer;
};

namespace {

// Names that peers chose, cut short and stripped of control characters
// before they reach the log.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 80))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}


std::string peer_of(const caf::strong_actor_ptr& sender) {
  return sender ? caf::to_string(sender->node()) : std::string{};
}

worker_actor::behavior_type
worker_node(worker_actor::stateful_pointer<worker_node_state> self,
            admission_config acfg, item_limits limits,
            std::vector<request_actor> pool, std::string base_url,
            std::shared_ptr<worker_shared> shared) {
  auto& st = self->state;
  st.worker = acfg.worker;
  st.admission.emplace(std::move(acfg));
  st.limits = std::move(limits);
  st.pool = std::move(pool);
  st.base_url = std::move(base_url);
  st.shared = std::move(shared);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source != st.holder)
      return;
    if (auto head = st.admission->holder())
      spdlog::info("head {} is gone ({}): the worker is free",
                   printable(*head), caf::to_string(dm.reason));
    st.admission->release_peer(st.holder_peer);
    st.holder = nullptr;
  });
  return {
    [self](join_atom, const worker_join& join) -> caf::result<worker_pool> {
      auto& st = self->state;
      auto sender = self->current_sender();
      join_request r{join.protocol_version, join.model, join.head, join.token,
                     peer_of(sender)};
      auto now = std::chrono::steady_clock::now();
      if (auto lapsed = st.admission->expire(now))
        spdlog::warn("head {} sent no heartbeat in time: its lease ended",
                     printable(*lapsed));
      auto a = st.admission->join(r, now);
      if (!a.accepted) {
        uint64_t quiet = 0;
        if (st.refusals.should_log(join.head, a.kind, now, quiet))
          spdlog::warn("refusing head {}: {}{}", printable(join.head),
                       a.reason,
                       quiet > 0 ? " (" + std::to_string(quiet)
                                     + " more since the last line)"
                                 : std::string{});
        return caf::make_error(caf::sec::runtime_error, a.reason);
      }
      if (sender) {
        auto addr = caf::actor_cast<caf::actor_addr>(sender);
        if (addr != st.holder)
          self->monitor(addr);
        st.holder = addr;
        st.holder_peer = r.peer;
      }
      spdlog::info("head {} joined (lease {}): lending {} request actor(s)",
                   printable(join.head), a.lease, st.pool.size());
      worker_pool out;
      out.worker = st.worker;
      out.base_url = st.base_url;
      out.lease = a.lease;
      out.slots = static_cast<uint32_t>(st.pool.size());
      return out;
    },
    [self](heartbeat_atom, uint64_t lease) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (!st.admission->heartbeat(lease, std::chrono::steady_clock::now()))
        return caf::make_error(caf::sec::runtime_error,
                               "lease " + std::to_string(lease)
                                 + " is no longer current");
      return lease;
    },
    [self](work_atom, uint64_t lease, uint32_t slot,
           work_item& item) -> caf::result<attempt_result> {
      auto& st = self->state;
      if (st.shared->stopping)
        return caf::make_error(caf::sec::runtime_error,
                               "the worker is stopping");
      if (!st.admission->holds(lease, peer_of(self->current_sender()))
          || slot >= st.pool.size())
        return caf::make_error(caf::sec::runtime_error,
                               "no current lease for this head");
      auto why = check_item(st.limits, item.endpoint, item.body);
      if (!why.empty()) {
        attempt_result r;
        r.job = item.job;
        r.index = item.index;
        r.attempt = item.attempt;
        r.failure = failure_kind::http_status;
        r.http_status = 403; // not retried: every attempt would be refused
        r.detail = "refused by worker " + st.worker + ": " + why;
        return r;
      }
      ++st.shared->in_flight;
      auto promise = self->make_response_promise<attempt_result>();
      self->request(st.pool[slot], caf::infinite, std::move(item))
        .then(
          [self, promise](attempt_result& r) mutable {
            --self->state.shared->in_flight;
            promise.deliver(std::move(r));
          },
          [self, promise](caf::error& err) mutable {
            --self->state.shared->in_flight;
            promise.deliver(std::move(err));
          });
      return promise;
    },
  };
}

} // namespace

int run_worker(const worker_options& o) {
  std::string host;
  uint16_t port = 0;
  if (o.listen.size() > 2 && o.listen.substr(o.listen.size() - 2) == ":0") {
    host = o.listen.substr(0, o.listen.size() - 2);
  } else if (!url::split_host_port(o.listen, host, port)) {
    std::fprintf(stderr, "error: --listen: expected host:port, got \"%s\"\n",
                 escape_controls(o.listen).c_str());
    return 2;
  }
  datagen_config cfg;
  try {
    cfg = load_datagen_config(o.config_path);
    if (o.base_url)
      cfg.api.base_url = normalize_base_url(*o.base_url, "--base-url");
  } catch (const config_error& e) {
    std::fprintf(stderr, "error: %s\n", escape_controls(e.what()).c_str());
    return 2;
  }
  if (o.pool)
    cfg.api.max_concurrent_requests = *o.pool;
  auto tls = cfg.cluster.tls;
  if (o.tls_cert || o.tls_key || o.tls_ca) {
    if (!o.tls_cert || !o.tls_key || !o.tls_ca) {
      std::fprintf(stderr, "error: --tls-cert, --tls-key and --tls-ca go "
                           "together\n");
      return 2;
    }
    tls = {*o.tls_cert, *o.tls_key, *o.tls_ca};
  }
  // CAF's middleman allocates what a message header announces before any
  // check of ours can run; TLS refuses a peer without a certificate from
  // the CA before that. So off loopback a worker needs TLS.
  if (!is_loopback_host(host) && !tls.enabled() && !o.insecure) {
    std::fprintf(stderr,
                 "error: --listen %s is not a loopback address: a worker "
                 "reachable from the network needs mutual TLS (cluster.tls "
                 "or --tls-cert/--tls-key/--tls-ca); --insecure serves it "
                 "without\n",
                 escape_controls(o.listen).c_str());
    return 2;
  }
  spdlog::set_level(o.verbose ? spdlog::level::debug : spdlog::level::info);
  if (o.insecure && !tls.enabled())
    spdlog::warn("--insecure: listening on {} without TLS; whoever can "
                 "connect {}",
                 o.listen,
                 cfg.cluster.token.empty()
                   ? "may use this worker's model server"
                   : "and knows the token may use this worker's model "
                     "server, and the token crosses the network in clear");

  // Wait for SIGINT/SIGTERM in this thread only: block them before any
  // other thread exists so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto version = o.protocol_version != 0 ? o.protocol_version
                                         : cluster_protocol_version;
  auto sim = start_embedded_sim(cfg.api, cfg.model);
  http_engine engine{io_threads_for(cfg.api)};
  caf::actor_system_config sys_cfg;
  configure_system(sys_cfg, true, tls);
  caf::actor_system sys{sys_cfg};
  auto pool = spawn_pool(sys, engine, make_request_target(cfg.api),
                         cfg.api.max_concurrent_requests);
  auto shared = std::make_shared<worker_shared>();
  admission_config acfg;
  acfg.protocol_version = version;
  acfg.worker = o.listen;
  acfg.model = cfg.model;
  acfg.token = cfg.cluster.token;
  acfg.dead_after = std::chrono::milliseconds(
    static_cast<int64_t>(cfg.cluster.dead_after_s * 1000));
  item_limits limits;
  limits.model = cfg.model;
  limits.max_n = o.max_n.value_or(cfg.namegen.params.n);
  limits.max_tokens = o.max_tokens.value_or(cfg.namegen.params.max_tokens);
  auto stop_all = [&](const caf::actor& node) {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    for (auto& a : pool)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  auto node = sys.spawn(worker_node, acfg, limits, pool,
                        url::redact(cfg.api.base_url), shared);
  auto bound = tls.enabled()
                 ? caf::openssl::publish(node, port, host.c_str(), true)
                 : sys.middleman().publish(node, port, host.c_str(), true);
  if (!bound) {
    spdlog::error("cannot listen on {}: {}", o.listen,
                  caf::to_string(bound.error()));
    stop_all(caf::actor_cast<caf::actor>(node));
    return 1;
  }
  std::printf("worker listening on %s:%u\n", host.c_str(), *bound);
  std::fflush(stdout);
  spdlog::info("worker {}:{}: {} request actor(s) on {}{}{}; limits: n <= "
               "{}, max_tokens <= {}",
               host, *bound, pool.size(), url::redact(cfg.api.base_url),
               tls.enabled() ? ", TLS" : "",
               cfg.cluster.token.empty() ? "" : ", token required",
               limits.max_n, limits.max_tokens);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  // Refuse new items (the head re-queues them elsewhere) and let those in
  // flight finish, up to the longest an attempt may take.
  shared->stopping = true;
  auto grace = std::chrono::milliseconds(
    static_cast<int64_t>(cfg.api.timeout_s * 1000) + 5000);
  auto deadline = std::chrono::steady_clock::now() + grace;
  spdlog::info("worker: signal {}: finishing {} attempt(s) in flight", sig,
               shared->in_flight.load());
  while (shared->in_flight > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (shared->in_flight > 0)
    spdlog::warn("worker: {} attempt(s) still in flight after {} s; the "
                 "head sends them again",
                 shared->in_flight.load(),
                 std::chrono::duration_cast<std::chrono::seconds>(grace)
                   .count());
  spdlog::info("worker: stopped");
  stop_all(caf::actor_cast<caf::actor>(node));
  return 0;
}

} // namespace evo
