// Multi-line quoted YAML scalars decoded by the spec (see quoted_scalar.hpp).
#include "app/config/quoted_scalar.hpp"

#include <cstdint>
#include <vector>

namespace evo::cfg {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

/// Backslashes right before `end` in `s`.
size_t backslashes_before(const std::string& s, size_t end) {
  size_t n = 0;
  while (end > n && s[end - n - 1] == '\\')
    ++n;
  return n;
}

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// The escapes of a double-quoted line; false on one YAML does not know.
bool unescape(const std::string& in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out += in[i];
      continue;
    }
    if (++i >= in.size())
      return false;
    int hex = 0;
    switch (in[i]) {
      case '0': out += '\0'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 't': case '\t': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'v': out += '\v'; break;
      case 'f': out += '\f'; break;
      case 'r': out += '\r'; break;
      case 'e': out += '\x1b'; break;
      case ' ': out += ' '; break;
      case '"': out += '"'; break;
      case '/': out += '/'; break;
      case '\\': out += '\\'; break;
      case 'N': put_utf8(out, 0x85); break;
      case '_': put_utf8(out, 0xA0); break;
      case 'L': put_utf8(out, 0x2028); break;
      case 'P': put_utf8(out, 0x2029); break;
      case 'x': hex = 2; break;
      case 'u': hex = 4; break;
      case 'U': hex = 8; break;
      default: return false;
    }
    if (hex == 0)
      continue;
    uint32_t cp = 0;
    for (int k = 1; k <= hex; ++k) {
      if (i + k >= in.size())
        return false;
      char c = in[i + k];
      int v = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (v < 0)
        return false;
      cp = cp * 16 + static_cast<uint32_t>(v);
    }
    if (cp > 0x10FFFF)
      return false;
    put_utf8(out, cp);
    i += hex;
  }
  return true;
}

} // namespace

std::optional<std::string> refold_quoted_scalar(const std::string& text,
                                                size_t pos) {
  if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
    return std::nullopt;
  const bool dq = text[pos] == '"';
  size_t close = std::string::npos;
  for (size_t i = pos + 1; i < text.size(); ++i) {
    if (dq && text[i] == '\\') {
      ++i;
    } else if (!dq && text[i] == '\'') {
      if (i + 1 < text.size() && text[i + 1] == '\'')
        ++i;
      else {
        close = i;
        break;
      }
    } else if (dq && text[i] == '"') {
      close = i;
      break;
    }
  }
  if (close == std::string::npos)
    return std::nullopt;
  const std::string raw = text.substr(pos + 1, close - pos - 1);
  if (raw.find('\n') == std::string::npos)
    return std::nullopt;

  // Lines of the raw text; a "\r\n" break counts as one.
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    size_t nl = raw.find('\n', start);
    std::string line = raw.substr(start, nl == std::string::npos ? std::string::npos
                                                                  : nl - start);
    if (nl != std::string::npos && !line.empty() && line.back() == '\r')
      line.pop_back();
    lines.push_back(std::move(line));
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }

  // Each line trimmed as the spec says: leading blanks of every line but the
  // first, trailing blanks of every line but the last (an escaped blank and
  // the blanks before an escaped line break stay).
  const size_t n = lines.size();
  std::vector<bool> escaped_break(n, false);
  for (size_t k = 0; k < n; ++k) {
    std::string& l = lines[k];
    if (k > 0) {
      size_t b = 0;
      while (b < l.size() && is_blank(l[b]))
        ++b;
      l.erase(0, b);
    }
    if (k + 1 < n) {
      if (dq && backslashes_before(l, l.size()) % 2 == 1) {
        escaped_break[k] = true;
        l.pop_back();
        continue;
      }
      size_t e = l.size();
      while (e > 0 && is_blank(l[e - 1])
             && !(dq && backslashes_before(l, e - 1) % 2 == 1))
        --e;
      l.erase(e);
    }
  }

  // Folding: a break followed by m empty lines gives m newlines, or a
  // space when m is 0; an escaped break gives nothing.
  std::string out;
  auto decode = [&](const std::string& piece, std::string& into) {
    if (dq)
      return unescape(piece, into);
    for (size_t i = 0; i < piece.size(); ++i) {
      into += piece[i];
      if (piece[i] == '\'' && i + 1 < piece.size() && piece[i + 1] == '\'')
        ++i;
    }
    return true;
  };
  if (!decode(lines[0], out))
    return std::nullopt;
  size_t k = 1;
  while (k < n) {
    const bool escaped = escaped_break[k - 1];
    size_t empty = 0;
    if (!escaped)
      while (k + 1 < n && lines[k].empty()) {
        ++empty;
        ++k;
      }
    if (!escaped)
      out += empty > 0 ? std::string(empty, '\n') : std::string(" ");
    if (!decode(lines[k], out))
      return std::nullopt;
    ++k;
  }
  return out;
}

} // namespace evo::cfg
