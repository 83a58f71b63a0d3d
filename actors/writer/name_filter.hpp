// From a raw completion to what a record keeps: name extraction and the name
// filters (filters.name_regex, namegen.weaklist, filters.exclude_names), the
// canonical key of a name (dedupe.canonical), and the stripped text of a
// free-text record. No CAF, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/writer/name_regex.hpp"

namespace evo {

/// Longer names are refused (as a regex mismatch): no function name is this
/// long, and it keeps a server's megabyte "name" out of the output.
constexpr size_t max_name_length = 512;

enum class name_verdict : uint8_t { kept, empty, regex, weak, excluded };

/// The name in a raw completion: leading whitespace skipped, then everything
/// up to the first '(', space, tab or newline, trimmed. This is also the
/// normalised form that dedupe and the uid use.
std::string_view extract_name(std::string_view raw);

/// A free-text completion: the raw text without leading and trailing
/// whitespace (as Python's str.strip() on ASCII whitespace).
std::string_view strip_text(std::string_view raw);

/// The canonical key of an identifier: its words, lower case, joined by
/// '_'. Words end at any byte that is not an ASCII letter or digit ('_',
/// '-', ...), before an upper-case letter that follows a lower-case letter
/// or a digit (isPalindrome -> is_palindrome), and before the last capital
/// of a run followed by a lower-case letter (parseHTTPHeader ->
/// parse_http_header). Digits stay with the word they follow (base64Encode
/// -> base64_encode); bytes >= 0x80 count as lower-case letters. A name
/// without any letter or digit ("_", "__") keys as itself.
std::string canonical_name(std::string_view name);

/// namegen.weaklist: names refused whatever their case (ASCII case folding).
/// Compact for lists of millions: the lowercased names back to back in one
/// buffer, found through an open-addressing table of 4-byte offsets (no
/// per-name allocation; a lookup hashes, then compares the stored name).
class weak_list {
public:
  weak_list() = default;
  explicit weak_list(const std::vector<std::string>& names);

  bool contains(std::string_view name) const;
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  /// Bytes held (the buffer and the table).
  size_t bytes() const {
    return chars_.capacity() + slots_.capacity() * sizeof(uint32_t);
  }

private:
  static constexpr uint32_t empty_slot = UINT32_MAX;

  std::string_view at(uint32_t offset) const;
  /// The slot holding `folded`, or the empty slot where it would go.
  size_t find_slot(std::string_view folded) const;

  std::string chars_;           ///< per name: 4-byte length, lowercased bytes
  std::vector<uint32_t> slots_; ///< offsets into chars_; empty_slot = free
  size_t size_ = 0;
};

class name_filter {
public:
  /// Throws std::invalid_argument on a regex name_regex_problem() refuses.
  /// A name is excluded when it is on `exclude` whatever its case, or when
  /// its canonical key is that of an entry (hasCloseElements is out with
  /// has_close_elements on the list).
  name_filter(const std::string& name_regex,
              const std::vector<std::string>& weaklist,
              const std::vector<std::string>& exclude = {});

  /// Why `name` (already extracted) is refused, or kept.
  name_verdict check(std::string_view name) const;

private:
  name_regex regex_;
  weak_list weak_;
  weak_list excluded_; ///< the entries and their canonical keys
};

} // namespace evo
