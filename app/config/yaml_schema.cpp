// The shared pieces of the YAML loaders (see yaml_schema.hpp): describing
// values, failing with file:line, and the typed readers of the schema. Reading
// and parsing a file is in yaml_file.cpp.
#include "app/config/yaml_schema.hpp"

#include "actors/writer/name_regex.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace evo::cfg {

// -- the tree -------------------------------------------------------------------

int line_of_key(const src_node& n) {
  if (n.key.Mark().line >= 0)
    return n.key.Mark().line + 1;
  if (n.value.Mark().line >= 0)
    return n.value.Mark().line + 1;
  return 1;
}

int line_of(const src_node& n) {
  if (n.value.IsNull() && n.key.Mark().line >= 0)
    return n.key.Mark().line + 1;
  if (n.value.Mark().line >= 0)
    return n.value.Mark().line + 1;
  return line_of_key(n);
}

std::string join(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

// -- describing values ----------------------------------------------------------

namespace {

bool is_digits(const std::string& s, size_t from) {
  if (from >= s.size())
    return false;
  for (size_t i = from; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

bool looks_like_int(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return is_digits(s, i);
}

bool looks_like_float(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  std::string rest = s.substr(i);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF")
    return true;
  if (i == 0 && (rest == ".nan" || rest == ".NaN" || rest == ".NAN"))
    return true;
  size_t digits = 0;
  size_t p = i;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
    ++p;
    ++digits;
  }
  if (p < s.size() && s[p] == '.') {
    ++p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      ++p;
      ++digits;
    }
  }
  if (digits == 0)
    return false;
  if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
    ++p;
    if (p < s.size() && (s[p] == '-' || s[p] == '+'))
      ++p;
    if (!is_digits(s.substr(p), 0))
      return false;
    return true;
  }
  return p == s.size();
}

} // namespace

/// Quoted or !!str scalars are strings; plain ones are null, true/false,
/// integers, floats or strings.
scalar_kind kind_of(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull())
    return scalar_kind::null;
  return kind_of_scalar(n.Tag(), n.Scalar());
}

scalar_kind kind_of_scalar(const std::string& tag, const std::string& s) {
  if (tag == "!" || (tag.size() >= 4 && tag.compare(tag.size() - 4, 4, ":str") == 0))
    return scalar_kind::string;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    return scalar_kind::null;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False"
      || s == "FALSE")
    return scalar_kind::boolean;
  if (looks_like_int(s))
    return scalar_kind::integer;
  if (looks_like_float(s))
    return scalar_kind::floating;
  return scalar_kind::string;
}

/// A string as a double-quoted, escaped, length-capped literal.
std::string quote(const std::string& s) {
  constexpr size_t cap = 60;
  std::string out = "\"";
  size_t i = 0;
  for (; i < s.size() && i < cap; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  if (i < s.size())
    out += "...";
  return out;
}

/// What was found, for the "got ..." part. A secret is described by its kind
/// only, never by its text.
std::string describe(const YAML::Node& v, bool secret) {
  if (!v.IsDefined() || v.IsNull())
    return "null";
  if (v.IsMap())
    return "a mapping";
  if (v.IsSequence())
    return v.size() == 0 ? "an empty sequence" : "a sequence";
  switch (kind_of(v)) {
    case scalar_kind::null: return "null";
    case scalar_kind::boolean: return secret ? "a boolean" : v.Scalar();
    case scalar_kind::integer: return secret ? "an integer" : v.Scalar();
    case scalar_kind::floating: return secret ? "a number" : v.Scalar();
    case scalar_kind::string: return secret ? "a string" : quote(v.Scalar());
  }
  return "a value";
}

// -- failing -----------------------------------------------------------------------

std::string where(const src_node& n, const std::string& path, int line) {
  return n.file + ":" + std::to_string(line) + ": " + n.ctx + "key '" + path
         + "'";
}

void fail(const src_node& n, const std::string& path,
                       const std::string& expected, const std::string& got) {
  throw config_error(where(n, path, line_of(n)) + ": expected " + expected
                     + ", got " + got);
}

void fail_at_key(const src_node& n, const std::string& path,
                              const std::string& expected,
                              const std::string& got) {
  throw config_error(where(n, path, line_of_key(n)) + ": expected " + expected
                     + ", got " + got);
}


// -- the schema --------------------------------------------------------------------

void check_keys(const src_node& n, const std::string& path,
                std::initializer_list<const char*> allowed) {
  for (const auto& [name, child] : n.children) {
    bool ok = false;
    for (const char* a : allowed)
      if (name == a)
        ok = true;
    if (ok)
      continue;
    std::string list;
    for (const char* a : allowed)
      list += (list.empty() ? "" : ", ") + std::string(a);
    fail_at_key(child, join(path, name), "one of " + list, "an unknown key");
  }
}

const src_node* section(const src_node* parent, const char* name,
                        const std::string& path,
                        std::initializer_list<const char*> allowed) {
  if (parent == nullptr)
    return nullptr;
  const src_node* n = parent->find(name);
  if (n == nullptr || n->value.IsNull())
    return nullptr;
  if (!n->value.IsMap())
    fail(*n, path, "a mapping", describe(n->value));
  check_keys(*n, path, allowed);
  return n;
}

const src_node* leaf(const src_node* parent, const char* name) {
  return parent == nullptr ? nullptr : parent->find(name);
}

std::string int_text(long long lo, long long hi) {
  if (hi == INT_MAX || hi == LLONG_MAX)
    return "an integer >= " + std::to_string(lo);
  return "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
}

long long as_int(const src_node& n, const std::string& path, long long lo,
                 long long hi) {
  const std::string expected = int_text(lo, hi);
  if (!n.value.IsScalar() || kind_of(n.value) != scalar_kind::integer)
    fail(n, path, expected, describe(n.value));
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(n.value.Scalar().c_str(), &end, 10);
  if (errno == ERANGE || v < lo || v > hi)
    fail(n, path, expected, describe(n.value));
  return v;
}


double as_number(const src_node& n, const std::string& path,
                 const std::string& expected, double lo, bool lo_open,
                 double hi, bool hi_open) {
  auto k = kind_of(n.value);
  if (!n.value.IsScalar()
      || (k != scalar_kind::integer && k != scalar_kind::floating))
    fail(n, path, expected, describe(n.value));
  const std::string& s = n.value.Scalar();
  if (s.find_first_of("iInN") != std::string::npos) // .inf / .nan
    fail(n, path, expected, describe(n.value));
  double v = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(v) || (lo_open ? v <= lo : v < lo)
      || (hi_open ? v >= hi : v > hi))
    fail(n, path, expected, describe(n.value));
  return v;
}

void read_number(const src_node* sec, const char* name, const std::string& path,
                 const std::string& expected, double lo, bool lo_open,
                 double hi, bool hi_open, double& out) {
  if (const src_node* n = leaf(sec, name))
    out = as_number(*n, path, expected, lo, lo_open, hi, hi_open);
}

std::string as_string(const src_node& n, const std::string& path,
                      bool non_empty, bool secret) {
  const char* expected = non_empty ? "a non-empty string" : "a string";
  if (!n.value.IsScalar() || kind_of(n.value) != scalar_kind::string)
    fail(n, path, expected, describe(n.value, secret));
  if (non_empty && n.value.Scalar().empty())
    fail(n, path, expected, describe(n.value, secret));
  return n.value.Scalar();
}

void read_string(const src_node* sec, const char* name, const std::string& path,
                 bool non_empty, std::string& out) {
  if (const src_node* n = leaf(sec, name))
    out = as_string(*n, path, non_empty);
}

bool as_bool(const src_node& n, const std::string& path) {
  if (!n.value.IsScalar() || kind_of(n.value) != scalar_kind::boolean)
    fail(n, path, "true or false", describe(n.value));
  return n.value.Scalar()[0] == 't' || n.value.Scalar()[0] == 'T';
}

void read_bool(const src_node* sec, const char* name, const std::string& path,
               bool& out) {
  if (const src_node* n = leaf(sec, name))
    out = as_bool(*n, path);
}

src_node item(const src_node& list, size_t i) {
  return src_node{list.file, YAML::Node(), list.value[i], {}, list.ctx, {}};
}

std::string item_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// -- values shared by namegen.* and manifest jobs -------------------------------------------

std::vector<std::string> read_stop(const src_node& n, const std::string& path) {
  const char* expected =
    "a non-empty string or a list of non-empty strings ([] sends no stop)";
  std::vector<std::string> out;
  if (n.value.IsScalar() && kind_of(n.value) == scalar_kind::string
      && !n.value.Scalar().empty()) {
    out.push_back(n.value.Scalar());
    return out;
  }
  if (!n.value.IsSequence())
    fail(n, path, expected, describe(n.value));
  for (size_t i = 0; i < n.value.size(); ++i) {
    src_node it = item(n, i);
    out.push_back(as_string(it, item_path(path, i), true));
  }
  return out;
}

std::vector<std::string> as_string_list(const src_node& n,
                                        const std::string& path) {
  if (!n.value.IsSequence())
    fail(n, path, "a list of strings", describe(n.value));
  std::vector<std::string> out;
  for (size_t i = 0; i < n.value.size(); ++i) {
    src_node it = item(n, i);
    out.push_back(as_string(it, item_path(path, i), false));
  }
  return out;
}

std::string as_regex(const src_node& n, const std::string& path) {
  std::string re = as_string(n, path, true);
  auto problem = name_regex_problem(re);
  if (!problem.empty())
    fail(n, path,
         "a regular expression that RE2 matches in linear time (no "
         "backreferences or lookaround)",
         describe(n.value) + " (" + problem + ")");
  return re;
}

fim_mode as_fim_mode(const src_node& n, const std::string& path) {
  const char* expected = "one of special_tokens, suffix, chat";
  if (!n.value.IsScalar() || kind_of(n.value) != scalar_kind::string)
    fail(n, path, expected, describe(n.value));
  const std::string& s = n.value.Scalar();
  if (s == "special_tokens")
    return fim_mode::special_tokens;
  if (s == "suffix")
    return fim_mode::suffix;
  if (s == "chat")
    return fim_mode::chat;
  fail(n, path, expected, describe(n.value));
}

stop_rule as_stop_rule(const src_node& n, const std::string& path) {
  if (!n.value.IsMap())
    fail(n, path, "a mapping {new_rate_below: R, window: W}", describe(n.value));
  check_keys(n, path, {"new_rate_below", "window"});
  stop_rule out;
  const src_node* r = n.find("new_rate_below");
  const char* rate_expected = "a number > 0 and < 1 (a share of new names)";
  if (r == nullptr)
    fail(n, path + ".new_rate_below", rate_expected, "no such key");
  out.new_rate_below = as_number(*r, path + ".new_rate_below", rate_expected,
                                 0, true, 1, true);
  const src_node* w = n.find("window");
  if (w == nullptr)
    fail(n, path + ".window", int_text(1, 10000000), "no such key");
  out.window = static_cast<uint32_t>(as_int(*w, path + ".window", 1, 10000000));
  return out;
}

} // namespace evo::cfg
