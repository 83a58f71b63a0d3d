// From a raw completion to a kept name: extraction, the filters
// (filters.name_regex, namegen.weaklist) and the uid. No CAF, no I/O.
#pragma once

#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace evo {

/// Longer names are refused without running the regex.
constexpr size_t max_name_length = 512;

enum class name_verdict : uint8_t { kept, empty, regex, weak };

/// The name in a raw completion: leading whitespace skipped, then everything
/// up to the first '(', space, tab or newline, trimmed. This is also the
/// normalised form that dedupe and the uid use.
std::string_view extract_name(std::string_view raw);

/// First 8 bytes of SHA-256(name), the 64-bit key behind the uid.
uint64_t name_key(std::string_view name);

/// The uid: the key as 16 lowercase hex digits (= first 16 hex of SHA-256).
std::string uid_hex(uint64_t key);

/// Parses 16 hex digits back to a key; false when `hex` is not one.
bool parse_uid(std::string_view hex, uint64_t& key);

class name_filter {
public:
  /// Throws std::regex_error on a bad regex.
  name_filter(const std::string& name_regex,
              const std::vector<std::string>& weaklist);

  /// Why `name` (already extracted) is refused, or kept.
  name_verdict check(std::string_view name) const;

private:
  std::regex regex_;
  std::unordered_set<std::string> weak_; // lowercase
};

} // namespace evo
