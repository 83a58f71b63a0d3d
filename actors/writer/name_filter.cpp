#include "actors/writer/name_filter.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace evo {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
         || c == '\v';
}

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
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

uint64_t name_key(std::string_view name) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(name.data()), name.size(),
         digest);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i)
    key = (key << 8) | digest[i];
  return key;
}

std::string uid_hex(uint64_t key) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = digits[key & 0xF];
    key >>= 4;
  }
  return out;
}

bool parse_uid(std::string_view hex, uint64_t& key) {
  if (hex.size() != 16)
    return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  key = v;
  return true;
}

name_filter::name_filter(const std::string& name_regex,
                         const std::vector<std::string>& weaklist)
  : regex_(name_regex, std::regex::ECMAScript | std::regex::optimize) {
  for (auto& w : weaklist)
    weak_.insert(lowercase(w));
}

name_verdict name_filter::check(std::string_view name) const {
  if (name.empty())
    return name_verdict::empty;
  // libstdc++'s regex recurses per character: a server sending a huge
  // "name" would overflow the stack. No function name is this long.
  if (name.size() > max_name_length)
    return name_verdict::regex;
  if (!std::regex_match(name.begin(), name.end(), regex_))
    return name_verdict::regex;
  if (!weak_.empty() && weak_.count(lowercase(name)) > 0)
    return name_verdict::weak;
  return name_verdict::kept;
}

} // namespace evo
