// Internal to evo_config (includes yaml-cpp; never include it from a public
// header). The pieces shared by the datagen loader (config_loader.cpp) and the
// job-manifest loader (manifest_loader.cpp): a YAML tree whose nodes remember
// their file and line, value descriptions, and typed readers that fail with
// one-line config_error messages
//   "<file>:<line>: <ctx>key '<dotted.key>': expected ..., got ..."
// where <ctx> is empty for the datagen loader and e.g. "job 'fim_hot': " for
// the nodes of a manifest job.
#pragma once

#include <yaml-cpp/yaml.h>

#include <climits>
#include <cmath>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/config/config_loader.hpp"

namespace evo::cfg {

// -- the tree ---------------------------------------------------------------------

/// One value of a (merged) config, with the file it came from.
struct src_node {
  std::string file;
  YAML::Node key;   ///< the key node; a default (null) node for the root and list items
  YAML::Node value; ///< the value as parsed
  std::vector<std::pair<std::string, src_node>> children; ///< when value is a map
  /// Put before "key '...'" in messages ("" or e.g. "job 'x': "); children
  /// and list items inherit it.
  std::string ctx;
  /// namegen.weaklist taken out of the text by the event pass
  /// (weaklist_stream.hpp): the strings, while `value` reads null. Shared so
  /// that copies of the tree do not copy millions of names.
  std::shared_ptr<std::vector<std::string>> streamed_list;

  const src_node* find(const std::string& k) const {
    for (const auto& [name, child] : children)
      if (name == k)
        return &child;
    return nullptr;
  }
  src_node* find(const std::string& k) {
    for (auto& [name, child] : children)
      if (name == k)
        return &child;
    return nullptr;
  }
};

int line_of_key(const src_node& n);
/// The line of the value; yaml-cpp marks an empty (null) map value at the next
/// token, so nulls take the line of their key.
int line_of(const src_node& n);
std::string join(const std::string& path, const std::string& name);

// -- describing values --------------------------------------------------------------

enum class scalar_kind { null, boolean, integer, floating, string };

/// YAML 1.2 core-schema resolution of a scalar (yes/no/on/off are strings).
scalar_kind kind_of(const YAML::Node& n);
/// The same for a scalar's tag and text (as yaml-cpp's event parser gives them).
scalar_kind kind_of_scalar(const std::string& tag, const std::string& s);
/// A string as a double-quoted, escaped, length-capped literal.
std::string quote(const std::string& s);
/// What was found, for the "got ..." part. A secret is described by its kind
/// only, never by its text.
std::string describe(const YAML::Node& v, bool secret = false);

// -- failing --------------------------------------------------------------------------

/// "<file>:<line>: <ctx>key '<path>'"
std::string where(const src_node& n, const std::string& path, int line);
[[noreturn]] void fail(const src_node& n, const std::string& path,
                       const std::string& expected, const std::string& got);
[[noreturn]] void fail_at_key(const src_node& n, const std::string& path,
                              const std::string& expected,
                              const std::string& got);

// -- reading files ----------------------------------------------------------------------

/// Reads one YAML file whose top level must be a mapping; `what` names the
/// keys in the "top level: expected a mapping of <what>" message.
/// With `weaklist` given, namegen.weaklist is read by the event pass first
/// (stream_weaklist) and put there (nullptr when the tree reads it).
YAML::Node parse_file(const std::string& name,
                      const std::string& what = "config keys",
                      std::shared_ptr<std::vector<std::string>>* weaklist = nullptr);
/// The src_node tree of `value`; keys must be scalars and unique.
src_node build(const YAML::Node& value, const YAML::Node& key,
               const std::string& file, const std::string& path,
               const std::string& ctx = "");

// -- the schema ----------------------------------------------------------------------------

/// Checks that `n` (a mapping) has only the `allowed` keys.
void check_keys(const src_node& n, const std::string& path,
                std::initializer_list<const char*> allowed);
/// The sub-mapping `name` of `parent`, or nullptr if absent or empty.
const src_node* section(const src_node* parent, const char* name,
                        const std::string& path,
                        std::initializer_list<const char*> allowed);
const src_node* leaf(const src_node* parent, const char* name);

std::string int_text(long long lo, long long hi);
long long as_int(const src_node& n, const std::string& path, long long lo,
                 long long hi);

template <class T>
void read_int(const src_node* sec, const char* name, const std::string& path,
              long long lo, long long hi, T& out) {
  if (const src_node* n = leaf(sec, name))
    out = static_cast<T>(as_int(*n, path, lo, hi));
}

/// A finite number in [lo, hi], where lo/hi are exclusive if said so.
double as_number(const src_node& n, const std::string& path,
                 const std::string& expected, double lo, bool lo_open,
                 double hi, bool hi_open);
void read_number(const src_node* sec, const char* name, const std::string& path,
                 const std::string& expected, double lo, bool lo_open,
                 double hi, bool hi_open, double& out);

constexpr double inf = HUGE_VAL;

std::string as_string(const src_node& n, const std::string& path,
                      bool non_empty, bool secret = false);
void read_string(const src_node* sec, const char* name, const std::string& path,
                 bool non_empty, std::string& out);
bool as_bool(const src_node& n, const std::string& path);
void read_bool(const src_node* sec, const char* name, const std::string& path,
               bool& out);

/// A list item as a node of its own, for messages.
src_node item(const src_node& list, size_t i);
std::string item_path(const std::string& path, size_t i);

// -- values shared by namegen.* and manifest jobs -------------------------------------------

/// `stop`: a list of non-empty strings ([] = send none) or a single string.
std::vector<std::string> read_stop(const src_node& n, const std::string& path);
/// `weaklist`: a list of strings.
std::vector<std::string> as_string_list(const src_node& n,
                                        const std::string& path);
/// `name_regex`: a non-empty string that name_regex_problem() accepts.
std::string as_regex(const src_node& n, const std::string& path);
/// `fim.mode`: special_tokens | suffix | chat.
fim_mode as_fim_mode(const src_node& n, const std::string& path);
/// `stop_when`: {new_rate_below: a number in (0, 1), window: 1..10^7}, both
/// keys required.
stop_rule as_stop_rule(const src_node& n, const std::string& path);

} // namespace evo::cfg
