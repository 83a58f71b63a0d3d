#include "app/node.hpp"

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "caf/openssl/all.hpp"

#include <spdlog/spdlog.h>

#include "actors/request/server_text.hpp"
#include "tools/sim/sim_server.hpp"

namespace evo {

void configure_system(caf::actor_system_config& cfg, bool distributed,
                      const cluster_tls_config& tls) {
  cfg.add_message_types<caf::id_block::evo>();
  // One scheduler thread: the HTTP engine and the writer have threads of
  // their own, and on two cores a second CAF scheduler thread only adds wake-ups and
  // work stealing (measured: 39 vs 53 us of CPU per request at C=8,
  // tools/bench/http_path.sh).
  cfg.set("scheduler.max-threads", 1);
  // An idle CAF scheduler thread polls 100 times, then (by default) 500 times with a
  // 50 us sleep in between, and only then waits on its condition variable.
  // Those sleeps last 60-110 us here and sit on the path of every answer
  // that arrives while the thread is idle: skipping the moderate phase took
  // C=1 from 6.0 k to 10.4 k requests/s and C=8 from 38 k to 49 k
  // (tools/bench/http_path.sh); an enqueue wakes the waiting thread at once.
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  if (!distributed)
    return;
  cfg.load<caf::io::middleman>();
  if (tls.enabled()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = tls.certificate;
    cfg.openssl_key = tls.key;
    cfg.openssl_cafile = tls.ca;
  }
}

std::unique_ptr<sim::sim_server> start_embedded_sim(api_config& api,
                                                    const std::string& model) {
  if (!api.is_embedded())
    return nullptr;
  auto& e = api.embedded;
  sim::sim_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.latency_ms = e.latency_ms;
  o.jitter_ms = e.jitter_ms;
  o.per_token_ms = e.per_token_ms;
  o.max_concurrency = e.max_concurrency;
  o.rate_limit = e.rate_limit;
  o.fault_rate = e.fault_rate;
  o.faults = e.faults;
  o.seed = e.seed;
  o.vocabulary = e.vocabulary;
  o.batch_model = e.batch_model;
  o.step_base_ms = e.step_base_ms;
  o.step_per_seq_ms = e.step_per_seq_ms;
  o.prefill_per_token_ms = e.prefill_per_token_ms;
  o.capacity_schedule = e.capacity_schedule;
  o.kv_capacity = e.kv_capacity;
  o.overload_queue = e.overload_queue;
  o.overload_status = e.overload_status;
  o.model = model;
  auto server = std::make_unique<sim::sim_server>(o);
  auto port = server->start();
  api.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  spdlog::info("embedded simulator listening on 127.0.0.1:{}", port);
  return server;
}

namespace {

// Whether the own HTTP/1.1 client will carry this config's requests. The
// embedded simulator always listens on 127.0.0.1.
bool uses_own_client(const api_config& api, std::string* why) {
  if (api.is_embedded() && api.http_client != http_client_kind::libcurl)
    return true;
  return native_http_eligible(api.base_url, api.http_client, why);
}

} // namespace

size_t io_threads_for(const api_config& api) {
  if (api.io_threads > 0)
    return static_cast<size_t>(api.io_threads);
  std::string why;
  return uses_own_client(api, &why) ? 1 : 2;
}

request_target make_request_target(const api_config& api) {
  request_target target;
  target.base_url = api.base_url;
  target.http.timeout = std::chrono::milliseconds(
    static_cast<int64_t>(api.timeout_s * 1000.0));
  target.http.ca_file = api.ca_file;
  target.http.insecure_skip_verify = api.insecure_skip_verify;
  target.http.client = api.http_client;
  target.http.max_response_bytes = api.max_response_bytes;
  target.secrets = secret_values(api);
  std::string why;
  bool native = uses_own_client(api, &why);
  if (api.http_client == http_client_kind::native && !native)
    spdlog::warn("api.http_client is native, but {}: using libcurl", why);
  auto threads = io_threads_for(api);
  spdlog::info("HTTP client: {}, {} I/O thread{}",
               native ? "own HTTP/1.1 client" : "libcurl (" + why + ")",
               threads, threads == 1 ? "" : "s");
  if (api.insecure_skip_verify)
    spdlog::warn("TLS certificate verification is OFF "
                 "(api.insecure_skip_verify): the server is not authenticated");
  if (!api.api_key.empty())
    target.http.headers.push_back("Authorization: Bearer " + api.api_key);
  for (auto& [name, value] : api.extra_headers)
    target.http.headers.push_back(name + ": " + value);
  return target;
}

std::vector<request_actor> spawn_pool(caf::actor_system& sys,
                                      http_engine& engine,
                                      const request_target& target, int size) {
  std::vector<request_actor> pool;
  pool.reserve(static_cast<size_t>(std::max(0, size)));
  for (int i = 0; i < size; ++i)
    pool.push_back(sys.spawn(request_actor_behavior, &engine, target));
  return pool;
}

} // namespace evo
