#include "app/worker.hpp"

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "caf/openssl/all.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "actors/request/url.hpp"
#include "app/cluster.hpp"
#include "app/config/config_loader.hpp"
#include "app/node.hpp"
#include "tools/sim/sim_server.hpp"

namespace evo {

namespace {

struct worker_node_state {
  static inline const char* name = "worker";
};

worker_actor::behavior_type
worker_node(worker_actor::stateful_pointer<worker_node_state>,
            std::vector<request_actor> pool, std::string model,
            std::string name, std::string base_url, uint32_t version) {
  return {
    [=](join_atom, const worker_join& join) -> caf::result<worker_pool> {
      if (join.protocol_version != version) {
        auto msg = "protocol version mismatch: head speaks "
                   + std::to_string(join.protocol_version) + ", worker "
                   + name + " speaks " + std::to_string(version);
        spdlog::error("refusing head {}: {}", join.head, msg);
        return caf::make_error(caf::sec::runtime_error, msg);
      }
      if (join.model != model) {
        auto msg = "incompatible config: head asks for model '" + join.model
                   + "', worker " + name + " serves '" + model + "'";
        spdlog::error("refusing head {}: {}", join.head, msg);
        return caf::make_error(caf::sec::runtime_error, msg);
      }
      spdlog::info("head {} joined: lending {} request actor(s)", join.head,
                   pool.size());
      worker_pool out;
      out.protocol_version = version;
      out.worker = name;
      out.base_url = base_url;
      out.actors = pool;
      return out;
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
                 o.listen.c_str());
    return 2;
  }
  datagen_config cfg;
  try {
    cfg = load_datagen_config(o.config_path);
    if (o.base_url)
      cfg.api.base_url = normalize_base_url(*o.base_url, "--base-url");
  } catch (const config_error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
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
  spdlog::set_level(o.verbose ? spdlog::level::debug : spdlog::level::info);

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
  auto name = o.listen;
  auto node = sys.spawn(worker_node, pool, cfg.model, name,
                        url::redact(cfg.api.base_url), version);
  auto bound = tls.enabled()
                 ? caf::openssl::publish(node, port, host.c_str(), true)
                 : sys.middleman().publish(node, port, host.c_str(), true);
  if (!bound) {
    spdlog::error("cannot listen on {}: {}", o.listen,
                  caf::to_string(bound.error()));
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    for (auto& a : pool)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::printf("worker listening on %s:%u\n", host.c_str(), *bound);
  std::fflush(stdout);
  spdlog::info("worker: {} request actor(s) on {}{}", pool.size(),
               url::redact(cfg.api.base_url), tls.enabled() ? ", TLS" : "");
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("worker: signal {}, stopping", sig);
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  for (auto& a : pool)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace evo
