// Head side of a distributed run: keeps connections to the worker nodes
// (CAF middleman, optionally TLS), asks each for its request actors and
// hands them to the running coordinator; reconnects to workers that start
// late or come back. Include only from CAF translation units.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "caf/fwd.hpp"

#include "messages/interfaces.hpp"

namespace evo {

class cluster_link {
public:
  /// Starts connecting to `workers` ("host:port") in the background.
  cluster_link(caf::actor_system& sys, std::vector<std::string> workers,
               std::string model, bool tls);
  ~cluster_link();
  cluster_link(const cluster_link&) = delete;
  cluster_link& operator=(const cluster_link&) = delete;

  /// Sends `coord` every pool joined so far and every pool that joins later,
  /// until detach().
  void attach(const coordinator_actor& coord);
  void detach();

  /// Pools connected right now.
  size_t connected() const;

private:
  struct worker_link;
  void loop();

  caf::actor_system& sys_;
  std::string model_;
  bool tls_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<worker_link*> links_;
  coordinator_actor coord_;
  std::thread thread_;
};

} // namespace evo
