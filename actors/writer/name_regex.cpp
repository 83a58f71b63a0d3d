#include "actors/writer/name_regex.hpp"

#include <re2/re2.h>

#include <stdexcept>

namespace evo {

namespace {

RE2::Options options() {
  RE2::Options o;
  // Bytes, as std::regex on chars: a pattern byte matches the same name
  // byte, and a name that is not UTF-8 is still matched, not refused.
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_log_errors(false);
  return o;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// What RE2 would read differently from ECMAScript, or refuse without saying
// why: backreferences, lookaround, repetition counts above RE2's 1000 (RE2
// takes "{1,99999999999}" as literal text, ECMAScript as a count).
std::string syntax_problem(std::string_view p) {
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && !in_class && p[i + 1] >= '1' && p[i + 1] <= '9')
        return std::string{"backreference \\"} + p[i + 1]
               + " is not supported";
      ++i; // the escaped character is a literal
      continue;
    }
    if (in_class) {
      if (c == ']')
        in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^')
        ++i;
      if (i + 1 < p.size() && p[i + 1] == ']')
        ++i; // a leading ']' is a member
      continue;
    }
    if (c == '(' && p.substr(i, 3) == "(?=")
      return "lookahead (?=...) is not supported";
    if (c == '(' && p.substr(i, 3) == "(?!")
      return "negative lookahead (?!...) is not supported";
    if (c == '(' && (p.substr(i, 4) == "(?<=" || p.substr(i, 4) == "(?<!"))
      return "lookbehind " + std::string{p.substr(i, 4)}
             + "...) is not supported";
    if (c == '{' && i + 1 < p.size() && is_digit(p[i + 1])) {
      // {n}, {n,} or {n,m}: every count at most 1000.
      size_t j = i + 1;
      bool big = false;
      for (int part = 0; part < 2; ++part) {
        size_t start = j;
        while (j < p.size() && is_digit(p[j]))
          ++j;
        if (j - start > 4
            || (j > start && std::stoul(std::string{p.substr(start, j - start)})
                               > 1000))
          big = true;
        if (part == 0 && j < p.size() && p[j] == ',')
          ++j;
        else
          break;
      }
      if (j < p.size() && p[j] == '}' && big)
        return "repetition count above 1000 in "
               + std::string{p.substr(i, j - i + 1)};
    }
  }
  return {};
}

} // namespace

std::string name_regex_problem(std::string_view pattern) {
  if (pattern.size() > max_name_regex_length)
    return "longer than " + std::to_string(max_name_regex_length)
           + " characters (" + std::to_string(pattern.size()) + ")";
  auto problem = syntax_problem(pattern);
  if (!problem.empty())
    return problem;
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), options());
  if (!re.ok())
    return re.error();
  return {};
}

name_regex::name_regex(const std::string& pattern) {
  auto problem = name_regex_problem(pattern);
  if (!problem.empty())
    throw std::invalid_argument("name_regex \"" + pattern + "\": " + problem);
  re_ = std::make_unique<RE2>(pattern, options());
}

name_regex::~name_regex() = default;
name_regex::name_regex(name_regex&&) noexcept = default;
name_regex& name_regex::operator=(name_regex&&) noexcept = default;

bool name_regex::full_match(std::string_view name) const {
  return RE2::FullMatch(re2::StringPiece(name.data(), name.size()), *re_);
}

} // namespace evo
