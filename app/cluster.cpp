#include "app/cluster.hpp"

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "caf/openssl/all.hpp"

#include <spdlog/spdlog.h>

#include "actors/request/url.hpp"

namespace evo {

struct cluster_link::worker_link {
  std::string name; // host:port
  std::string host;
  uint16_t port = 0;
  worker_actor handle;      ///< null while not connected
  worker_pool pool;         ///< what it lent us
  bool warned = false;      ///< "cannot connect" logged once per outage
};

cluster_link::cluster_link(caf::actor_system& sys,
                           std::vector<std::string> workers, std::string model,
                           bool tls)
  : sys_(sys), model_(std::move(model)), tls_(tls) {
  for (auto& w : workers) {
    auto* l = new worker_link;
    l->name = w;
    if (!url::split_host_port(w, l->host, l->port)) {
      delete l;
      throw std::runtime_error("worker address '" + w
                               + "': expected host:port");
    }
    links_.push_back(l);
  }
  thread_ = std::thread([this] { loop(); });
}

cluster_link::~cluster_link() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto* l : links_)
    delete l;
}

void cluster_link::attach(const coordinator_actor& coord) {
  std::lock_guard<std::mutex> guard{mtx_};
  coord_ = coord;
  for (auto* l : links_)
    if (l->handle)
      caf::anon_send(coord_, add_pool_atom_v, l->pool);
}

void cluster_link::detach() {
  std::lock_guard<std::mutex> guard{mtx_};
  coord_ = nullptr;
}

size_t cluster_link::connected() const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto* l : links_)
    if (l->handle)
      ++n;
  return n;
}

void cluster_link::loop() {
  caf::scoped_actor self{sys_};
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_)
        return;
    }
    for (auto* l : links_) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (stopping_)
          return;
        if (l->handle)
          continue;
      }
      auto remote = tls_ ? caf::openssl::remote_actor<worker_actor>(
                             sys_, l->host, l->port)
                         : sys_.middleman().remote_actor<worker_actor>(
                             l->host, l->port);
      if (!remote) {
        if (!l->warned)
          spdlog::warn("worker {}: cannot connect ({}); retrying", l->name,
                       caf::to_string(remote.error()));
        l->warned = true;
        continue;
      }
      worker_join join;
      join.model = model_;
      join.head = "head";
      self->request(*remote, std::chrono::seconds(10), join_atom_v, join)
        .receive(
          [&](worker_pool& pool) {
            if (pool.protocol_version != cluster_protocol_version) {
              spdlog::error("worker {} speaks protocol version {}, this head "
                            "speaks {}: not used",
                            l->name, pool.protocol_version,
                            cluster_protocol_version);
              return;
            }
            pool.worker = l->name;
            self->monitor(*remote);
            std::lock_guard<std::mutex> guard{mtx_};
            l->handle = *remote;
            l->pool = pool;
            l->warned = false;
            spdlog::info("worker {} connected: {} request actor(s)", l->name,
                         pool.actors.size());
            if (coord_)
              caf::anon_send(coord_, add_pool_atom_v, l->pool);
          },
          [&](caf::error& err) {
            if (!l->warned)
              spdlog::error("worker {} refused this head: {}", l->name,
                            caf::to_string(err));
            l->warned = true;
          });
    }
    // Notice workers that went away; retry the others in half a second.
    self->receive(
      [&](caf::down_msg& dm) {
        std::lock_guard<std::mutex> guard{mtx_};
        for (auto* l : links_)
          if (l->handle && l->handle.address() == dm.source) {
            spdlog::warn("worker {} is gone ({})", l->name,
                         caf::to_string(dm.reason));
            l->handle = nullptr;
            l->pool = worker_pool{};
          }
      },
      caf::after(std::chrono::milliseconds(500)) >> [] {});
  }
}

} // namespace evo
