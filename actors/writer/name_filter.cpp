#include "actors/writer/name_filter.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace evo {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
         || c == '\v';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

std::string_view extract_name(std::string_view raw) {
  size_t begin = 0;
  while (begin < raw.size() && is_space(raw[begin]))
    ++begin;
  auto rest = raw.substr(begin);
  auto end = rest.find_first_of("( \t\n\r");
  auto name = rest.substr(0, end);
  while (!name.empty() && is_space(name.back()))
    name.remove_suffix(1);
  return name;
}

weak_list::weak_list(const std::vector<std::string>& names) {
  size_t total = 0;
  for (auto& n : names)
    total += sizeof(uint32_t) + n.size();
  if (total > UINT32_MAX)
    throw std::length_error("namegen.weaklist: more than 4 GiB of names");
  chars_.reserve(total);
  offsets_.reserve(names.size());
  for (auto& n : names) {
    offsets_.push_back(static_cast<uint32_t>(chars_.size()));
    auto len = static_cast<uint32_t>(n.size());
    chars_.append(reinterpret_cast<const char*>(&len), sizeof(len));
    for (char c : n)
      chars_ += lower(c);
  }
  std::sort(offsets_.begin(), offsets_.end(),
            [this](uint32_t a, uint32_t b) { return at(a) < at(b); });
  offsets_.erase(std::unique(offsets_.begin(), offsets_.end(),
                             [this](uint32_t a, uint32_t b) {
                               return at(a) == at(b);
                             }),
                 offsets_.end());
  offsets_.shrink_to_fit();
}

std::string_view weak_list::at(uint32_t offset) const {
  uint32_t len;
  std::memcpy(&len, chars_.data() + offset, sizeof(len));
  return {chars_.data() + offset + sizeof(len), len};
}

bool weak_list::contains(std::string_view name) const {
  if (offsets_.empty())
    return false;
  // Names are at most max_name_length long when they get here; a longer
  // one is folded on the heap.
  char small[max_name_length];
  std::string big;
  char* folded = small;
  if (name.size() > sizeof(small)) {
    big.resize(name.size());
    folded = big.data();
  }
  for (size_t i = 0; i < name.size(); ++i)
    folded[i] = lower(name[i]);
  std::string_view key{folded, name.size()};
  auto it = std::lower_bound(
    offsets_.begin(), offsets_.end(), key,
    [this](uint32_t off, std::string_view k) { return at(off) < k; });
  return it != offsets_.end() && at(*it) == key;
}

name_filter::name_filter(const std::string& name_regex,
                         const std::vector<std::string>& weaklist)
  : regex_(name_regex), weak_(weaklist) {
  // nop
}

name_verdict name_filter::check(std::string_view name) const {
  if (name.empty())
    return name_verdict::empty;
  if (name.size() > max_name_length)
    return name_verdict::regex;
  if (!regex_.full_match(name))
    return name_verdict::regex;
  if (weak_.contains(name))
    return name_verdict::weak;
  return name_verdict::kept;
}

} // namespace evo
