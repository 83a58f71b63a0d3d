#include "actors/writer/json_write.hpp"

#include <cstdint>

namespace evo {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_u_escape(std::string& out, uint32_t cp) {
  out += "\\u00";
  out += hex_digits[(cp >> 4) & 0xF];
  out += hex_digits[cp & 0xF];
}

// Length of the well-formed UTF-8 sequence (2..4 bytes) starting at s[i], or
// 0 when the bytes there are not one (overlong forms, surrogates and code
// points above U+10FFFF included). `cp` receives its code point.
size_t utf8_sequence(std::string_view s, size_t i, uint32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  for (size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
      || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      uint32_t cp = 0;
      auto len = utf8_sequence(s, i, cp);
      if (len == 0) {
        out += "\xEF\xBF\xBD"; // U+FFFD for this byte; resync at the next
        ++i;
      } else {
        if (cp <= 0x9F)
          append_u_escape(out, cp); // a C1 control
        else
          out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7F)
          append_u_escape(out, c);
        else
          out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
}

} // namespace evo
