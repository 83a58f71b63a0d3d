#include "actors/coordinator/new_rate_window.hpp"

namespace evo {

new_rate_window::new_rate_window(uint32_t window)
  : bits_((window + 63) / 64, 0), size_(window) {
  // nop
}

void new_rate_window::push(bool is_new) {
  auto& word = bits_[pos_ / 64];
  const uint64_t bit = uint64_t{1} << (pos_ % 64);
  if (seen_ == size_ && (word & bit) != 0)
    --fresh_; // the oldest choice leaves the window
  if (is_new) {
    word |= bit;
    ++fresh_;
  } else {
    word &= ~bit;
  }
  if (seen_ < size_)
    ++seen_;
  pos_ = pos_ + 1 == size_ ? 0 : pos_ + 1;
}

void new_rate_window::add(uint64_t fresh, uint64_t repeated) {
  if (size_ == 0)
    return;
  // More than a window's worth: only the last `size_` matter.
  for (uint64_t i = 0; i < fresh; ++i)
    push(true);
  for (uint64_t i = 0; i < repeated; ++i)
    push(false);
}

bool new_rate_window::below(double rate) const {
  return size_ > 0 && full()
         && static_cast<double>(fresh_) < rate * static_cast<double>(size_);
}

} // namespace evo
