// The weak list's cost at a size users give it: builds a weak_list of N
// names (default 2,000,000) and prints build time, bytes held per name,
// resident memory added, and lookups per second; then the same for the
// std::unordered_set<std::string> it replaced, for comparison.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "actors/writer/name_filter.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// The i-th probe, in capitals: every other one a name of the list.
std::string probe(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "WEAK_FN_%zx_%zu", i * 2654435761u % 1000003,
                i + (i & 1) * n);
  return buf;
}

std::string lowercase(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return -1;
}

} // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000000;
  std::vector<std::string> names;
  names.reserve(n);
  char buf[64];
  for (size_t i = 0; i < n; ++i) {
    // Mixed case, 12-20 characters: like a list of real function names.
    std::snprintf(buf, sizeof(buf), "Weak_Fn_%zx_%zu", i * 2654435761u % 1000003, i);
    names.emplace_back(buf);
  }
  size_t chars = 0;
  for (auto& s : names)
    chars += s.size();
  std::printf("names %zu, %.1f characters on average\n", n, double(chars) / n);

  long rss0 = rss_kib();
  auto t0 = clock_type::now();
  evo::weak_list w{names};
  double build_s = seconds_since(t0);
  long rss1 = rss_kib();
  t0 = clock_type::now();
  size_t hits = 0;
  for (size_t i = 0; i < n; ++i)
    hits += w.contains(probe(i, n));
  double look_s = seconds_since(t0);
  std::printf("weak_list: build %.2f s, %.1f bytes held per name, RSS +%.1f MiB"
              " (%.1f B per name), %.2f M lookups/s (%zu hits)\n",
              build_s, double(w.bytes()) / n, (rss1 - rss0) / 1024.0,
              (rss1 - rss0) * 1024.0 / n, n / look_s / 1e6, hits);

  long rss2 = rss_kib();
  t0 = clock_type::now();
  std::unordered_set<std::string> old;
  for (auto& s : names)
    old.insert(lowercase(s));
  double old_build_s = seconds_since(t0);
  long rss3 = rss_kib();
  t0 = clock_type::now();
  size_t old_hits = 0;
  for (size_t i = 0; i < n; ++i)
    old_hits += old.count(lowercase(probe(i, n)));
  double old_look_s = seconds_since(t0);
  std::printf("unordered_set<string> (before): build %.2f s, RSS +%.1f MiB"
              " (%.1f B per name), %.2f M lookups/s (%zu hits)\n",
              old_build_s, (rss3 - rss2) / 1024.0, (rss3 - rss2) * 1024.0 / n,
              n / old_look_s / 1e6, old_hits);
  return hits == n / 2 + n % 2 ? 0 : 1;
}
