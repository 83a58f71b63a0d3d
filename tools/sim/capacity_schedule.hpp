// The batch model's capacity schedule ("0:64,30:16,60:64": KV capacity by
// seconds since start), parsed where the simulator's flag and the embedded
// simulator's config key are checked. Plain C++, no HTTP: the config loader
// links it without the simulator.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace evo::sim {

// From second 0 capacity 64, from second 30 capacity 16, ...
using capacity_schedule = std::vector<std::pair<double, int>>;

// Parses a schedule; on error returns false and says why in *err.
bool parse_capacity_schedule(const std::string& text, capacity_schedule& out, std::string* err);

// The capacity in force `t_s` seconds after start (entries sorted by time;
// before the first entry: `fallback`).
int capacity_at(const capacity_schedule& s, double t_s, int fallback);

}  // namespace evo::sim
