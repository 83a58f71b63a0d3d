// Every log line is one line of text that is safe on a terminal, whatever it
// echoes (config values, file paths, names): the message's control
// characters and invalid UTF-8 are escaped (escape_controls, the same rule
// as for server text) before spdlog formats the line.
#pragma once

#include <memory>
#include <string>

#include <spdlog/formatter.h>

namespace evo {

/// A formatter with spdlog's `pattern` whose message part (%v) is escaped.
std::unique_ptr<spdlog::formatter> safe_log_formatter(const std::string& pattern);

} // namespace evo
