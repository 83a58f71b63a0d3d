#include "actors/writer/name_filter.hpp"

#include <cstring>
#include <functional>
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

std::string_view strip_text(std::string_view raw) {
  while (!raw.empty() && is_space(raw.front()))
    raw.remove_prefix(1);
  while (!raw.empty() && is_space(raw.back()))
    raw.remove_suffix(1);
  return raw;
}

weak_list::weak_list(const std::vector<std::string>& names) {
  size_t total = 0;
  for (auto& n : names)
    total += sizeof(uint32_t) + n.size();
  if (total >= empty_slot)
    throw std::length_error("namegen.weaklist: more than 4 GiB of names");
  chars_.reserve(total);
  size_t slots = 16;
  while (slots * 7 < names.size() * 10) // load factor at most 0.7
    slots *= 2;
  slots_.assign(slots, empty_slot);
  std::string folded;
  for (auto& n : names) {
    folded.assign(n);
    for (auto& c : folded)
      c = lower(c);
    auto i = find_slot(folded);
    if (slots_[i] != empty_slot)
      continue; // a duplicate
    slots_[i] = static_cast<uint32_t>(chars_.size());
    auto len = static_cast<uint32_t>(folded.size());
    chars_.append(reinterpret_cast<const char*>(&len), sizeof(len));
    chars_ += folded;
    ++size_;
  }
  chars_.shrink_to_fit();
}

std::string_view weak_list::at(uint32_t offset) const {
  uint32_t len;
  std::memcpy(&len, chars_.data() + offset, sizeof(len));
  return {chars_.data() + offset + sizeof(len), len};
}

size_t weak_list::find_slot(std::string_view folded) const {
  auto mask = slots_.size() - 1;
  auto i = std::hash<std::string_view>{}(folded) & mask;
  while (slots_[i] != empty_slot && at(slots_[i]) != folded)
    i = (i + 1) & mask;
  return i;
}

bool weak_list::contains(std::string_view name) const {
  if (size_ == 0)
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
  return slots_[find_slot({folded, name.size()})] != empty_slot;
}

namespace {

bool is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}

bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

// Lower-case letters, and bytes of non-ASCII characters (no case here).
bool is_lower_like(unsigned char c) {
  return (c >= 'a' && c <= 'z') || c >= 0x80;
}

std::vector<std::string> with_canonical_keys(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  out.reserve(v.size() * 2);
  for (auto& n : v) {
    out.push_back(n);
    out.push_back(canonical_name(n));
  }
  return out;
}

} // namespace

std::string canonical_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  bool in_word = false;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    bool part = is_upper(c) || is_digit(c) || is_lower_like(c);
    if (!part) {
      in_word = false;
      continue;
    }
    if (in_word && is_upper(c)) {
      auto prev = static_cast<unsigned char>(name[i - 1]);
      bool next_lower =
        i + 1 < name.size()
        && is_lower_like(static_cast<unsigned char>(name[i + 1]));
      if (is_lower_like(prev) || is_digit(prev)
          || (is_upper(prev) && next_lower))
        in_word = false;
    }
    if (!in_word && !out.empty())
      out += '_';
    in_word = true;
    out += static_cast<char>(lower(static_cast<char>(c)));
  }
  if (out.empty())
    return std::string{name};
  return out;
}

name_filter::name_filter(const std::string& name_regex,
                         const std::vector<std::string>& weaklist,
                         const std::vector<std::string>& exclude)
  : regex_(name_regex), weak_(weaklist),
    excluded_(with_canonical_keys(exclude)) {
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
  if (!excluded_.empty()
      && (excluded_.contains(name) || excluded_.contains(canonical_name(name))))
    return name_verdict::excluded;
  return name_verdict::kept;
}

} // namespace evo
