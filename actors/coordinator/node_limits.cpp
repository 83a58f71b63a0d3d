#include "actors/coordinator/node_limits.hpp"

#include <algorithm>

namespace evo {

namespace {

uint32_t as_u32(size_t v) {
  return static_cast<uint32_t>(std::min<size_t>(v, UINT32_MAX));
}

} // namespace

node_limits::node_limits(bool adaptive, concurrency_limit_config base)
  : adaptive_(adaptive), base_(base) {
  // nop
}

void node_limits::start(double now) {
  started_ = now;
  for (auto& n : nodes_)
    if (n.live)
      start_limit(n, now);
  record_total(now);
}

void node_limits::start_limit(node& n, double now) {
  if (!adaptive_ || n.limit)
    return;
  // A node cannot carry more than it lends; the run's ceiling (the
  // semaphore) caps every node, and the sum through the scheduler's cap.
  auto c = base_;
  c.ceiling = std::max<size_t>(1, std::min(base_.ceiling, n.slots));
  c.floor = std::min(base_.floor, c.ceiling);
  n.joined = now;
  n.limit.emplace(c, now);
}

size_t node_limits::join(const std::string& name, const std::string& base_url,
                         size_t slots, size_t actors, double now) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    if (n.live && n.name == name) {
      n.actors += actors;
      return i;
    }
  }
  node n;
  n.name = name;
  n.base_url = base_url;
  n.slots = std::max(slots, actors);
  n.actors = actors;
  nodes_.push_back(std::move(n));
  if (started_) {
    start_limit(nodes_.back(), now);
    record_total(now);
  }
  return nodes_.size() - 1;
}

void node_limits::actor_added(size_t node) {
  ++nodes_.at(node).actors;
}

bool node_limits::actor_lost(size_t node, double now) {
  auto& n = nodes_.at(node);
  if (!n.live)
    return false;
  if (n.actors > 0)
    --n.actors;
  if (n.actors > 0)
    return false;
  n.live = false; // its limit stays for the report, out of the sum
  n.left = now;
  if (started_)
    record_total(now);
  return true;
}

bool node_limits::headroom(size_t node) const {
  auto& n = nodes_.at(node);
  if (!n.live)
    return false;
  return !n.limit || n.in_flight < n.limit->limit();
}

void node_limits::sent(size_t node) {
  auto& n = nodes_.at(node);
  ++n.in_flight;
  if (n.limit)
    n.limit->on_sent(n.in_flight);
}

void node_limits::returned(size_t node) {
  auto& n = nodes_.at(node);
  if (n.in_flight > 0)
    --n.in_flight;
}

void node_limits::on_success(size_t node, double now, uint64_t tokens,
                             double latency_s) {
  auto& n = nodes_.at(node);
  if (!n.live || !n.limit)
    return;
  n.limit->on_success(now, tokens, latency_s);
  record_total(now);
}

void node_limits::on_overload(size_t node, double now, double retry_after_s) {
  auto& n = nodes_.at(node);
  if (!n.live || !n.limit)
    return;
  n.limit->on_overload(now, retry_after_s);
  record_total(now);
}

void node_limits::on_refused(size_t node, double now, double retry_after_s) {
  auto& n = nodes_.at(node);
  if (!n.live || !n.limit)
    return;
  n.limit->on_refused(now, retry_after_s, n.in_flight);
  record_total(now);
}

size_t node_limits::limit(size_t node) const {
  auto& n = nodes_.at(node);
  return n.live && n.limit ? n.limit->limit() : 0;
}

size_t node_limits::total_limit() const {
  size_t sum = 0;
  for (size_t i = 0; i < nodes_.size(); ++i)
    sum += limit(i);
  return sum;
}

size_t node_limits::live_nodes() const {
  return static_cast<size_t>(std::count_if(
    nodes_.begin(), nodes_.end(), [](const node& n) { return n.live; }));
}

std::string node_limits::progress_text() const {
  if (!adaptive_ || live_nodes() < 2)
    return {};
  std::string out;
  for (auto& n : nodes_)
    if (n.live && n.limit)
      out += (out.empty() ? "" : " ") + n.name + " "
             + std::to_string(n.in_flight) + "/"
             + std::to_string(n.limit->limit());
  return out;
}

void node_limits::record_total(double now) {
  bool any = std::any_of(nodes_.begin(), nodes_.end(),
                         [](const node& n) { return n.limit.has_value(); });
  if (!any)
    return; // no limit has run yet: nothing to sum
  auto sum = total_limit();
  if (total_started_ && sum == total_last_)
    return;
  total_min_ = total_started_ ? std::min(total_min_, sum) : sum;
  total_max_ = total_started_ ? std::max(total_max_, sum) : sum;
  total_started_ = true;
  total_last_ = sum;
  append_thinned(total_series_, now - started_.value_or(0), as_u32(sum),
                 base_.series_points);
}

concurrency_trace node_limits::trace() const {
  concurrency_trace t;
  if (!total_started_)
    return t;
  t.min = as_u32(total_min_);
  t.max = as_u32(total_max_);
  t.final = as_u32(total_last_);
  t.series = total_series_;
  auto run_start = started_.value_or(0);
  for (auto& n : nodes_) {
    if (!n.limit)
      continue;
    auto own = n.limit->trace();
    node_trace nt;
    nt.node = n.name;
    nt.base_url = n.base_url;
    nt.min = own.min;
    nt.max = own.max;
    nt.final = n.live ? own.final : 0; // a node that left holds nothing
    // Its own series counts from its join: shift to the run's clock.
    for (auto& [s, l] : own.series)
      nt.series.emplace_back(s + n.joined - run_start, l);
    if (!n.live)
      nt.series.emplace_back(n.left - run_start, 0);
    t.nodes.push_back(std::move(nt));
  }
  return t;
}

} // namespace evo
