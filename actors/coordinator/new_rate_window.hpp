// The saturation rule's memory: which of a job's last W valid choices were
// new names, as a ring of bits, and whether the share of new ones fell
// below the rule's rate (stop_when: {new_rate_below, window}). No CAF.
#pragma once

#include <cstdint>
#include <vector>

namespace evo {

class new_rate_window {
public:
  /// `window` = 0: no rule (below() is never true).
  explicit new_rate_window(uint32_t window = 0);

  /// One request's valid choices: `fresh` new names, then `repeated` seen
  /// before (the order inside one request is not known: new ones first).
  void add(uint64_t fresh, uint64_t repeated);

  /// The window holds `window` choices.
  bool full() const { return seen_ >= size_; }
  /// New names among the last `window` valid choices.
  uint64_t fresh() const { return fresh_; }
  /// Full, and fewer than rate x window of them were new.
  bool below(double rate) const;

private:
  void push(bool is_new);

  std::vector<uint64_t> bits_;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;   ///< next bit to overwrite
  uint64_t seen_ = 0;  ///< choices added, capped at size_
  uint64_t fresh_ = 0; ///< set bits in the ring
};

} // namespace evo
