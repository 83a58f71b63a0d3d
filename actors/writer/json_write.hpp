// Writing JSON by hand for the JSONL lines this program appends (names,
// failures, journal): one string-literal writer that always yields valid
// UTF-8 JSON, whatever bytes a server sent. No CAF, no I/O.
#pragma once

#include <string>
#include <string_view>

namespace evo {

/// Appends `s` to `out` as a JSON string literal (quotes included). The
/// result is valid UTF-8 and holds no raw control character: each byte that
/// is not part of a well-formed UTF-8 sequence becomes U+FFFD; C0 controls,
/// DEL and C1 controls (U+0080..U+009F) are written as \u escapes, so a line
/// shown on a terminal cannot carry ESC, BEL or CSI sequences.
void append_json_string(std::string& out, std::string_view s);

} // namespace evo
