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
                           std::shared_ptr<dedupe_set> seen, bool canonical)
  : filter_(std::move(filter)), bounds_(bounds),
    // A shared set counts every job's sightings together: a job needs its
    // own counts then.
    own_counts_(seen ? std::make_unique<dedupe_set>() : nullptr),
    canonical_(canonical) {
  seen_ = seen ? std::move(seen) : std::make_shared<dedupe_set>();
  if (canonical_)
    seen_->keep_spellings();
}

choice_sieve choice_sieve::names(name_filter filter,
                                 std::shared_ptr<dedupe_set> seen,
                                 bool canonical) {
  return choice_sieve{std::move(filter), {}, std::move(seen), canonical};
}

choice_sieve choice_sieve::texts(text_bounds bounds,
                                 std::shared_ptr<dedupe_set> seen) {
  return choice_sieve{std::nullopt, bounds, std::move(seen), false};
}

choice_sieve choice_sieve::for_job(const job_output& out,
                                   std::shared_ptr<dedupe_set> seen) {
  if (out.extract_text) {
    auto sieve = texts({out.min_chars, out.max_chars}, std::move(seen));
    if (out.near_threshold > 0)
      sieve.detect_near(out.near_threshold, out.near_shingle);
    return sieve;
  }
  return names(name_filter{out.name_regex, out.weaklist, out.exclude_names},
               std::move(seen), out.canonical);
}

void choice_sieve::preload(uint64_t uid, std::string_view name) {
  if (canonical_ && !name.empty())
    seen_->insert(uid_key(canonical_name(name)), static_cast<uint32_t>(uid));
  else
    seen_->insert(uid, static_cast<uint32_t>(uid));
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
        case name_verdict::excluded: ++st.filtered_excluded; continue;
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
    auto uid = uid_key(text);
    // Under dedupe.canonical the set is keyed by the name's words; the low
    // half of the uid tells the kept spelling from another one.
    auto key = canonical_ ? uid_key(canonical_name(text)) : uid;
    auto spelling = static_cast<uint32_t>(uid);
    auto& counts = own_counts_ ? *own_counts_ : *seen_;
    if (seen_->contains(key)) {
      auto before = counts.count_sighting(key);
      freq_.sighting(before);
      bool other_spelling = canonical_ && seen_->spelling(key) != spelling;
      if (filter_)
        top_.sighting(key, uint64_t{before} + 1, text, !other_spelling);
      if (other_spelling)
        ++st.canonical_duplicates;
      else
        ++st.duplicates;
      continue;
    }
    if (near_ && !near_->keep(text)) {
      ++st.near_duplicates;
      continue;
    }
    seen_->insert(key, spelling);
    auto before = counts.count_sighting(key);
    freq_.sighting(before);
    if (filter_)
      top_.sighting(key, uint64_t{before} + 1, text);
    ++st.kept;
    kept.push_back({static_cast<uint32_t>(i), text, uid});
  }
  return st;
}

} // namespace evo
