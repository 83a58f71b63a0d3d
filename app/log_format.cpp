// A spdlog formatter that escapes the message before the pattern runs.
#include "app/log_format.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>

#include <algorithm>

#include "actors/request/server_text.hpp"

namespace evo {

namespace {

class escaping_formatter final : public spdlog::formatter {
public:
  explicit escaping_formatter(std::unique_ptr<spdlog::formatter> inner)
    : inner_(std::move(inner)) {
    // nop
  }

  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    std::string_view text{msg.payload.data(), msg.payload.size()};
    // Plain printable ASCII, the usual case, needs no copy.
    if (std::all_of(text.begin(), text.end(),
                    [](char c) { return c >= 0x20 && c < 0x7f; })) {
      inner_->format(msg, dest);
      return;
    }
    auto safe = escape_controls(text);
    auto copy = msg;
    copy.payload = spdlog::string_view_t{safe.data(), safe.size()};
    inner_->format(copy, dest);
    // The colour sink reads where the level's colour goes from the message
    // it passed in.
    msg.color_range_start = copy.color_range_start;
    msg.color_range_end = copy.color_range_end;
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<escaping_formatter>(inner_->clone());
  }

private:
  std::unique_ptr<spdlog::formatter> inner_;
};

} // namespace

std::unique_ptr<spdlog::formatter> safe_log_formatter(const std::string& pattern) {
  return std::make_unique<escaping_formatter>(
    std::make_unique<spdlog::pattern_formatter>(pattern));
}

} // namespace evo
