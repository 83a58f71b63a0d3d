#include "actors/writer/top_names.hpp"

#include <algorithm>

namespace evo {

namespace {

// a ranks below b: smaller count, or the same count reached later.
template <class E>
bool ranks_below(const E& a, const E& b) {
  return a.count != b.count ? a.count < b.count : a.reached > b.reached;
}

} // namespace

void top_names::sighting(uint64_t key, uint64_t count, std::string_view name,
                         bool kept_spelling) {
  ++sightings_;
  if (k_ == 0)
    return;
  // K is small (20): a linear scan beats any index here.
  for (auto& e : entries_) {
    if (e.key != key)
      continue;
    e.count = count;
    e.reached = sightings_;
    if (kept_spelling && !e.kept_spelling) {
      e.name.assign(name);
      e.kept_spelling = true;
    }
    return;
  }
  if (entries_.size() < k_) {
    entries_.push_back({key, count, sightings_, std::string{name},
                        kept_spelling});
    return;
  }
  auto low = std::min_element(entries_.begin(), entries_.end(),
                              [](const entry& a, const entry& b) {
                                return ranks_below(a, b);
                              });
  if (count <= low->count)
    return; // the listed ones reached this count first
  low->key = key;
  low->count = count;
  low->reached = sightings_;
  low->name.assign(name); // reuses the evicted name's buffer
  low->kept_spelling = kept_spelling;
}

std::vector<name_count> top_names::sorted() const {
  std::vector<const entry*> order;
  order.reserve(entries_.size());
  for (auto& e : entries_)
    order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const entry* a, const entry* b) {
    return ranks_below(*b, *a);
  });
  std::vector<name_count> out;
  out.reserve(order.size());
  for (auto* e : order)
    out.push_back({e->name, e->count});
  return out;
}

} // namespace evo
