// Parsing and lookup of the batch model's capacity schedule.
#include "tools/sim/capacity_schedule.hpp"

#include <cstdlib>
#include <sstream>

namespace evo::sim {

bool parse_capacity_schedule(const std::string& text, capacity_schedule& out, std::string* err) {
  capacity_schedule s;
  if (!text.empty() && text.back() == ',') {
    *err = "trailing ','";
    return false;
  }
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto colon = item.find(':');
    char* end = nullptr;
    if (colon == std::string::npos) {
      *err = "entry '" + item + "': expected SECONDS:CAPACITY";
      return false;
    }
    const std::string a = item.substr(0, colon), b = item.substr(colon + 1);
    const double t = std::strtod(a.c_str(), &end);
    if (a.empty() || *end != '\0' || !(t >= 0)) {
      *err = "entry '" + item + "': '" + a + "' is not a non-negative number of seconds";
      return false;
    }
    const long c = std::strtol(b.c_str(), &end, 10);
    if (b.empty() || *end != '\0' || c < 1 || c > 1000000) {
      *err = "entry '" + item + "': '" + b + "' is not a capacity of at least 1 sequence";
      return false;
    }
    if (!s.empty() && t <= s.back().first) {
      *err = "entry '" + item + "': times must increase";
      return false;
    }
    s.emplace_back(t, int(c));
  }
  if (s.empty()) {
    *err = "empty schedule (expected e.g. 0:64,30:16,60:64)";
    return false;
  }
  out = std::move(s);
  return true;
}

int capacity_at(const capacity_schedule& s, double t_s, int fallback) {
  int c = fallback;
  for (const auto& [t, cap] : s) {
    if (t > t_s) break;
    c = cap;
  }
  return c;
}

}  // namespace evo::sim
