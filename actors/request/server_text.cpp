// Redaction of configured secrets and escaping of server text.
#include "actors/request/server_text.hpp"

#include <algorithm>
#include <cstdint>

#include "actors/request/url.hpp"

namespace evo {

namespace {

constexpr size_t min_secret_bytes = 4;

void add_secret(std::vector<std::string>& out, std::string value) {
  if (value.size() >= min_secret_bytes
      && std::find(out.begin(), out.end(), value) == out.end())
    out.push_back(std::move(value));
}

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2))
      return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0)
      return 0; // overlong
    if (c == 0xED && b(i + 1) >= 0xA0)
      return 0; // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3))
      return 0;
    if (c == 0xF0 && b(i + 1) < 0x90)
      return 0; // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90)
      return 0; // past U+10FFFF
    return 4;
  }
  return 0;
}

const char* hex = "0123456789abcdef";

} // namespace

std::vector<std::string> secret_values(const api_config& api) {
  std::vector<std::string> out;
  add_secret(out, api.api_key);
  for (auto& [name, value] : api.extra_headers)
    add_secret(out, value);
  auto cred = url::userinfo_of(api.base_url);
  add_secret(out, cred.user);
  add_secret(out, cred.password);
  auto begin = api.base_url.find("://");
  auto at = api.base_url.substr(0, api.base_url.find_first_of("?#")).rfind('@');
  if (begin != std::string::npos && at != std::string::npos && at > begin + 3) {
    auto raw = api.base_url.substr(begin + 3, at - begin - 3);
    add_secret(out, raw);
    auto colon = raw.find(':');
    add_secret(out, raw.substr(0, colon));
    if (colon != std::string::npos)
      add_secret(out, raw.substr(colon + 1));
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() > b.size();
  });
  return out;
}

std::string redact_secrets(std::string_view text,
                           const std::vector<std::string>& secrets) {
  std::string out{text};
  std::vector<const std::string*> order;
  for (auto& s : secrets)
    if (!s.empty())
      order.push_back(&s);
  std::stable_sort(order.begin(), order.end(),
                   [](auto* a, auto* b) { return a->size() > b->size(); });
  for (auto* s : order) {
    for (size_t pos = out.find(*s); pos != std::string::npos;
         pos = out.find(*s, pos)) {
      out.replace(pos, s->size(), "[redacted]");
      pos += 10;
    }
  }
  return out;
}

std::string escape_controls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = utf8_length(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
      continue;
    }
    if (len == 1) {
      if (c == '\n')
        out += "\\n";
      else if (c == '\r')
        out += "\\r";
      else if (c == '\t')
        out += "\\t";
      else if (c < 0x20 || c == 0x7f)
        out.append("\\x").append(1, hex[c >> 4]).append(1, hex[c & 15]);
      else
        out.push_back(static_cast<char>(c));
    } else if (len == 2 && c == 0xC2
               && static_cast<unsigned char>(text[i + 1]) < 0xA0) {
      auto cp = static_cast<unsigned char>(text[i + 1]); // U+0080..U+009F
      out.append("\\u00").append(1, hex[cp >> 4]).append(1, hex[cp & 15]);
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string excerpt(std::string_view s, size_t max) {
  auto cut = std::min(max, s.size());
  if (cut < s.size())
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
      --cut; // s[cut] continues a sequence: cut before its lead byte
  std::string out{s.substr(0, cut)};
  for (auto& c : out)
    if (c == '\n' || c == '\r')
      c = ' ';
  if (cut < s.size())
    out += "...";
  return out;
}

std::string safe_server_text(std::string_view text,
                             const std::vector<std::string>& secrets) {
  return escape_controls(redact_secrets(text, secrets));
}

} // namespace evo
