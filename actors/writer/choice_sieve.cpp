#include "actors/writer/choice_sieve.hpp"

namespace evo {

uint64_t utf8_length(std::string_view s) {
  uint64_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
      ++n;
  return n;
}

choice_sieve::choice_sieve(std::optional<name_filter> filter,
                           text_bounds bounds,
                           std::shared_ptr<dedupe_set> seen)
  : filter_(std::move(filter)), bounds_(bounds),
    seen_(seen ? std::move(seen) : std::make_shared<dedupe_set>()) {
  // nop
}

choice_sieve choice_sieve::names(name_filter filter,
                                 std::shared_ptr<dedupe_set> seen) {
  return choice_sieve{std::move(filter), {}, std::move(seen)};
}

choice_sieve choice_sieve::texts(text_bounds bounds,
                                 std::shared_ptr<dedupe_set> seen) {
  return choice_sieve{std::nullopt, bounds, std::move(seen)};
}

choice_sieve choice_sieve::for_job(const job_output& out,
                                   std::shared_ptr<dedupe_set> seen) {
  if (out.extract_text) {
    auto sieve = texts({out.min_chars, out.max_chars}, std::move(seen));
    if (out.near_threshold > 0)
      sieve.detect_near(out.near_threshold, out.near_shingle);
    return sieve;
  }
  return names(name_filter{out.name_regex, out.weaklist}, std::move(seen));
}

write_stats choice_sieve::sift(const std::vector<std::string>& choices,
                               std::vector<kept_choice>& kept) {
  write_stats st;
  st.choices = static_cast<uint32_t>(choices.size());
  for (size_t i = 0; i < choices.size(); ++i) {
    std::string_view text;
    if (filter_) {
      text = extract_name(choices[i]);
      switch (filter_->check(text)) {
        case name_verdict::empty: ++st.filtered_empty; continue;
        case name_verdict::regex: ++st.filtered_regex; continue;
        case name_verdict::weak: ++st.filtered_weak; continue;
        case name_verdict::kept: break;
      }
    } else {
      text = strip_text(choices[i]);
      if (text.empty()) {
        ++st.filtered_empty;
        continue;
      }
      auto chars = utf8_length(text);
      if (chars < bounds_.min_chars
          || (bounds_.max_chars != 0 && chars > bounds_.max_chars)) {
        ++st.filtered_regex;
        continue;
      }
    }
    auto key = uid_key(text);
    if (seen_->contains(key)) {
      ++st.duplicates;
      continue;
    }
    if (near_ && !near_->keep(text)) {
      ++st.near_duplicates;
      continue;
    }
    seen_->insert(key);
    ++st.kept;
    kept.push_back({static_cast<uint32_t>(i), text, key});
  }
  return st;
}

} // namespace evo
