// filters.name_regex: the check the config loaders run at load time and the
// linear-time matcher (RE2) the writer runs on every name. Users write the
// ECMAScript-like syntax they know (^[a-z_][a-z0-9_]*$, \d, \w, classes,
// {n,m}); what RE2 cannot match in linear time (backreferences, lookaround)
// is refused with a reason. No CAF, no I/O.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace evo {

/// Longest pattern accepted (a name filter is a line, not a program).
constexpr size_t max_name_regex_length = 1000;

/// Why `pattern` cannot be a name filter, or "" when it can. The reason is
/// one line, e.g. "backreference \1 is not supported".
std::string name_regex_problem(std::string_view pattern);

/// A compiled name filter. Matching is on bytes (Latin-1 mode, as
/// std::regex on chars did) and must cover the whole name, as
/// std::regex_match did; matching time is linear in the name's length.
class name_regex {
public:
  /// Throws std::invalid_argument with name_regex_problem()'s reason.
  explicit name_regex(const std::string& pattern);
  ~name_regex();
  name_regex(name_regex&&) noexcept;
  name_regex& operator=(name_regex&&) noexcept;

  /// True when the whole of `name` matches.
  bool full_match(std::string_view name) const;

private:
  std::unique_ptr<re2::RE2> re_;
};

} // namespace evo
