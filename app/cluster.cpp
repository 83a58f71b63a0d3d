// The head's cluster link actor: leases on worker nodes, heartbeats,
// reconnects, and one proxy per lent slot for the coordinator.
#include "app/cluster.hpp"

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "caf/openssl/all.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "actors/coordinator/coordinator_actor.hpp" // error_text
#include "actors/request/url.hpp"
#include "app/cluster_proxy.hpp"

namespace evo {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

std::string default_head_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0)
    std::snprintf(host, sizeof(host), "head");
  return std::string{host} + ":" + std::to_string(getpid());
}

cluster_link_options make_link_options(const cluster_config& c,
                                       const std::string& model,
                                       double timeout_s) {
  auto ms = [](double s) { return milliseconds(static_cast<int64_t>(s * 1000)); };
  cluster_link_options o;
  o.workers = c.workers;
  o.model = model;
  o.token = c.token;
  o.head_name = c.head_name.empty() ? default_head_name() : c.head_name;
  o.tls = c.tls.enabled();
  o.heartbeat = ms(c.heartbeat_s);
  o.dead_after = ms(c.dead_after_s);
  // The worker's own HTTP timeout ends an attempt first; the margin covers
  // the network and the worker's queue.
  o.attempt_deadline = ms(timeout_s) + milliseconds(5000);
  return o;
}

namespace {

// -- link: leases on every worker node ---------------------------------------

struct node_link {
  std::string addr, host;
  uint16_t port = 0;
  enum class phase { idle, connecting, joined } ph = phase::idle;
  uint64_t gen = 0; ///< bumped at every loss: stale callbacks see it
  worker_actor remote;
  worker_pool pool;
  std::vector<caf::actor> proxies; ///< per slot; null once lost
  std::vector<bool> offered;       ///< the proxy may be given out
  steady::time_point last_seen;
  bool ever_joined = false;
  std::string problem; ///< last reason it is not used (logged on change)
};

struct link_state {
  static inline const char* name = "cluster_link";
  cluster_link_options opts;
  std::vector<node_link> nodes;
  coordinator_actor coord;
  caf::io::middleman_actor mm;
};

using link_ptr = caf::stateful_actor<link_state>*;

void offer(link_ptr self, node_link& n, std::vector<caf::actor> actors) {
  if (!self->state.coord || actors.empty())
    return;
  worker_pool p = n.pool;
  p.actors.clear();
  for (auto& a : actors) // a proxy answers work_item like a request actor
    p.actors.push_back(caf::actor_cast<request_actor>(a));
  self->send(self->state.coord, add_pool_atom_v, std::move(p));
}

caf::actor spawn_proxy(link_ptr self, size_t i, uint32_t slot) {
  auto& n = self->state.nodes[i];
  return self->spawn<caf::linked>(worker_proxy, n.remote,
                                  caf::actor_cast<caf::actor>(self), n.addr,
                                  n.pool.lease, slot, i, n.gen,
                                  self->state.opts.attempt_deadline);
}

void connect(link_ptr self, size_t i);

void retry_later(link_ptr self, size_t i, const std::string& problem,
                 bool error) {
  auto& n = self->state.nodes[i];
  n.ph = node_link::phase::idle;
  if (problem != n.problem) {
    if (error)
      spdlog::error("worker {}: {}", n.addr, problem);
    else
      spdlog::warn("worker {}: {}; retrying", n.addr, problem);
  }
  n.problem = problem;
  self->delayed_send(self, self->state.opts.retry, caf::connect_atom_v, i,
                     n.gen);
}

void drop(link_ptr self, size_t i, const std::string& why) {
  auto& n = self->state.nodes[i];
  spdlog::warn("worker {} declared dead ({}); its items are re-queued", n.addr,
               why);
  for (auto& p : n.proxies)
    if (p)
      self->send_exit(p, caf::exit_reason::user_shutdown);
  n.proxies.clear();
  n.offered.clear();
  if (n.remote)
    self->demonitor(n.remote.address());
  n.remote = nullptr;
  ++n.gen;
  n.problem = "declared dead: " + why;
  n.ph = node_link::phase::idle;
  self->delayed_send(self, self->state.opts.retry, caf::connect_atom_v, i,
                     n.gen);
}

void joined(link_ptr self, size_t i, worker_actor remote, worker_pool pool) {
  auto& n = self->state.nodes[i];
  if (pool.protocol_version != cluster_protocol_version) {
    retry_later(self, i,
                "speaks protocol version "
                  + std::to_string(pool.protocol_version) + ", this head "
                  + std::to_string(cluster_protocol_version) + ": not used",
                true);
    return;
  }
  n.ph = node_link::phase::joined;
  n.remote = std::move(remote);
  self->monitor(n.remote);
  pool.worker = n.addr;
  pool.actors.clear();
  n.pool = std::move(pool);
  n.last_seen = steady::now();
  n.ever_joined = true;
  n.problem.clear();
  n.proxies.clear();
  n.offered.assign(n.pool.slots, true);
  for (uint32_t s = 0; s < n.pool.slots; ++s)
    n.proxies.push_back(spawn_proxy(self, i, s));
  spdlog::info("worker {} connected: {} request actor(s) (lease {})", n.addr,
               n.pool.slots, n.pool.lease);
  offer(self, n, n.proxies);
}

// CAF's middleman connects with a blocking connect(), one at a time: an
// address that drops SYNs would hold up every other connect (and the exit)
// for minutes. So a TCP connect with a short limit comes first, in an actor
// of its own that may block.
std::string tcp_probe(const std::string& host, uint16_t port,
                      milliseconds limit) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints,
                        &res);
  if (rc != 0)
    return std::string{"cannot resolve: "} + gai_strerror(rc);
  std::string err = "no address";
  for (auto* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      a->ai_protocol);
    if (fd < 0) {
      err = std::strerror(errno);
      continue;
    }
    int r = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) {
        err = "no TCP connection within " + seconds_text(limit);
        ::close(fd);
        continue;
      }
      int so = 0;
      socklen_t len = sizeof(so);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
      r = so == 0 ? 0 : -1;
      errno = so;
    }
    if (r != 0)
      err = std::strerror(errno);
    ::close(fd);
    if (r == 0) {
      freeaddrinfo(res);
      return {};
    }
  }
  freeaddrinfo(res);
  return err;
}

void probe(link_ptr self, size_t i) {
  auto& n = self->state.nodes[i];
  n.ph = node_link::phase::connecting;
  auto limit = std::min(self->state.opts.connect_deadline, milliseconds(3000));
  self->spawn<caf::detached>(
    [](caf::blocking_actor* p, caf::actor link, size_t i, uint64_t gen,
       std::string host, uint16_t port, milliseconds limit) {
      p->send(link, caf::pong_atom_v, i, gen, tcp_probe(host, port, limit));
    },
    caf::actor_cast<caf::actor>(self), i, n.gen, n.host, n.port, limit);
}

void connect(link_ptr self, size_t i) {
  auto& st = self->state;
  auto& n = st.nodes[i];
  n.ph = node_link::phase::connecting;
  auto gen = n.gen;
  self->request(st.mm, st.opts.connect_deadline, caf::connect_atom_v, n.host,
                n.port)
    .then(
      [self, i, gen](const caf::node_id&, caf::strong_actor_ptr& ptr,
                     const std::set<std::string>&) {
        auto& st = self->state;
        if (st.nodes[i].gen != gen)
          return;
        auto remote = caf::actor_cast<worker_actor>(std::move(ptr));
        if (!remote) {
          retry_later(self, i, "nothing published at this port", false);
          return;
        }
        worker_join join;
        join.model = st.opts.model;
        join.head = st.opts.head_name;
        join.token = st.opts.token;
        self->request(remote, st.opts.connect_deadline, join_atom_v, join)
          .then(
            [self, i, gen, remote](worker_pool& pool) {
              if (self->state.nodes[i].gen == gen)
                joined(self, i, remote, std::move(pool));
            },
            [self, i, gen](caf::error& err) {
              if (self->state.nodes[i].gen != gen)
                return;
              if (err == caf::sec::request_timeout)
                retry_later(self, i, "no answer to the join in time", false);
              else
                retry_later(self, i, "refused this head: " + error_text(err),
                            false);
            });
      },
      [self, i, gen](caf::error& err) {
        auto& st = self->state;
        if (st.nodes[i].gen != gen)
          return;
        std::string why;
        if (err == caf::sec::request_timeout)
          why = "no CAF handshake within "
                + seconds_text(st.opts.connect_deadline)
                + " (not an evoselfcode worker, or TLS on one side only?)";
        else if (err == caf::sec::disconnect_during_handshake && st.opts.tls)
          why = "closed the connection during the handshake (certificate "
                "not accepted, or no TLS on its side?)";
        else if (err == caf::sec::disconnect_during_handshake)
          why = "closed the connection during the handshake (does it "
                "require TLS? this head has no cluster.tls)";
        else
          why = "cannot connect (" + caf::to_string(err) + ")";
        retry_later(self, i, why, false);
      });
}

void heartbeat(link_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  for (size_t i = 0; i < st.nodes.size(); ++i) {
    auto& n = st.nodes[i];
    if (n.ph != node_link::phase::joined)
      continue;
    if (now - n.last_seen > st.opts.dead_after) {
      drop(self, i,
           "no heartbeat answer for " + seconds_text(st.opts.dead_after));
      continue;
    }
    auto gen = n.gen;
    self->request(n.remote, st.opts.dead_after, heartbeat_atom_v, n.pool.lease)
      .then(
        [self, i, gen](uint64_t) {
          auto& n = self->state.nodes[i];
          if (n.gen == gen)
            n.last_seen = steady::now();
        },
        [self, i, gen](caf::error& err) {
          auto& n = self->state.nodes[i];
          // A timeout is judged by last_seen; anything else ends the lease.
          if (n.gen == gen && err != caf::sec::request_timeout)
            drop(self, i, error_text(err));
        });
  }
  self->delayed_send(self, st.opts.heartbeat, caf::tick_atom_v);
}

caf::behavior cluster_link_actor(link_ptr self, cluster_link_options opts,
                                 caf::io::middleman_actor mm) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.mm = std::move(mm);
  for (auto& w : st.opts.workers) {
    node_link n;
    n.addr = w;
    url::split_host_port(w, n.host, n.port); // checked by cluster_link
    st.nodes.push_back(std::move(n));
  }
  // Every worker at once: one that hangs does not hold up the others.
  for (size_t i = 0; i < st.nodes.size(); ++i)
    probe(self, i);
  self->delayed_send(self, st.opts.heartbeat, caf::tick_atom_v);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& nodes = self->state.nodes;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].remote && nodes[i].remote.address() == dm.source)
        drop(self, i, "connection lost: " + caf::to_string(dm.reason));
  });
  return {
    [self](caf::connect_atom, size_t i, uint64_t gen) {
      auto& n = self->state.nodes[i];
      if (n.gen == gen && n.ph == node_link::phase::idle)
        probe(self, i);
    },
    // The TCP probe's verdict: on to CAF's connect, or retry later.
    [self](caf::pong_atom, size_t i, uint64_t gen, const std::string& err) {
      auto& n = self->state.nodes[i];
      if (n.gen != gen || n.ph != node_link::phase::connecting)
        return;
      if (err.empty())
        connect(self, i);
      else
        retry_later(self, i, "cannot connect (" + err + ")", false);
    },
    [self](caf::tick_atom) { heartbeat(self); },
    [self](caf::put_atom, const caf::actor& coord) {
      auto& st = self->state;
      st.coord = caf::actor_cast<coordinator_actor>(coord);
      for (auto& n : st.nodes) {
        std::vector<caf::actor> ready;
        for (size_t s = 0; s < n.proxies.size(); ++s)
          if (n.proxies[s] && n.offered[s])
            ready.push_back(n.proxies[s]);
        offer(self, n, std::move(ready));
      }
    },
    [self](caf::delete_atom) { self->state.coord = nullptr; },
    [self](caf::get_atom) -> std::string {
      std::string out;
      for (auto& n : self->state.nodes)
        if (!n.ever_joined)
          out += (out.empty() ? "" : "; ") + ("worker " + n.addr + ": "
                 + (n.problem.empty() ? "not reached yet" : n.problem));
      return out;
    },
    // A proxy's attempt passed its deadline: do not hand it out again.
    [self](caf::timeout_atom, size_t i, uint64_t gen, uint32_t slot) {
      auto& n = self->state.nodes[i];
      if (n.gen == gen && slot < n.offered.size())
        n.offered[slot] = false;
    },
    // The late answer came: the remote request actor is free again.
    [self](caf::ok_atom, size_t i, uint64_t gen, uint32_t slot) {
      auto& n = self->state.nodes[i];
      if (n.gen != gen || slot >= n.proxies.size())
        return;
      n.proxies[slot] = spawn_proxy(self, i, slot);
      n.offered[slot] = true;
      offer(self, n, {n.proxies[slot]});
    },
    // The worker answered an attempt with an error (stopping, lease gone):
    // the slot stays unused until the node is joined again.
    [self](caf::delete_atom, size_t i, uint64_t gen, uint32_t slot) {
      auto& n = self->state.nodes[i];
      if (n.gen == gen && slot < n.proxies.size())
        n.proxies[slot] = nullptr;
    },
  };
}

} // namespace

cluster_link::cluster_link(caf::actor_system& sys, cluster_link_options opts)
  : sys_(sys) {
  for (auto& w : opts.workers) {
    std::string host;
    uint16_t port = 0;
    if (!url::split_host_port(w, host, port))
      throw std::runtime_error("worker address '" + w
                               + "': expected host:port");
  }
  spdlog::info("head {}: connecting to {} worker(s)", opts.head_name,
               opts.workers.size());
  auto mm = opts.tls ? sys.openssl_manager().actor_handle()
                     : sys.middleman().actor_handle();
  // Not detached: the BASP broker monitors the link once a worker holds a
  // proxy of it, and CAF 0.17's middleman may stop with the link's
  // down_msg (which holds the link as its sender) still in the broker's
  // mailbox. A detached actor's thread waits for its actor to be destroyed
  // and actor_system's destructor waits for that thread: the process never
  // exited. A scheduled actor has no such thread. Nothing here blocks.
  link_ = sys.spawn(cluster_link_actor, std::move(opts), mm);
}

cluster_link::~cluster_link() {
  caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
}

void cluster_link::attach(const coordinator_actor& coord) {
  caf::anon_send(link_, caf::put_atom_v, caf::actor_cast<caf::actor>(coord));
}

void cluster_link::detach() {
  caf::anon_send(link_, caf::delete_atom_v);
}

std::string cluster_link::diagnosis() {
  std::string out;
  caf::scoped_actor self{sys_};
  self->request(link_, std::chrono::seconds(5), caf::get_atom_v)
    .receive([&](std::string& s) { out = std::move(s); },
             [](caf::error&) {});
  return out;
}

} // namespace evo
