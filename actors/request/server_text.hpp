// Makes text that came from a server safe to log, print and write: secrets
// redacted, invalid UTF-8 replaced, control characters escaped. No CAF.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "messages/settings.hpp"

namespace evo {

/// The configured values that must never appear in what we log or write:
/// the API key, every extra_headers value, the base URL's user name and
/// password (raw and percent-decoded). Values under 4 bytes are left out:
/// replacing them would garble ordinary text and hide nothing.
std::vector<std::string> secret_values(const api_config& api);

/// `text` with every occurrence of each secret replaced by "[redacted]"
/// (longest first, so a secret holding another goes whole).
std::string redact_secrets(std::string_view text,
                           const std::vector<std::string>& secrets);

/// `text` as valid UTF-8 with no raw control characters: each invalid byte
/// becomes U+FFFD, C0 controls and DEL become \xHH (\n, \r, \t spelled so),
/// C1 controls (U+0080..U+009F, e.g. the 8-bit CSI) become \u00HH. ESC, BEL
/// and OSC sequences therefore reach no terminal.
std::string escape_controls(std::string_view text);

/// At most `max` bytes of `s`, never ending inside a UTF-8 sequence (the
/// text ends up in JSON files), newlines flattened, "..." when cut.
std::string excerpt(std::string_view s, size_t max = 200);

/// Both: redact, then escape.
std::string safe_server_text(std::string_view text,
                             const std::vector<std::string>& secrets);

} // namespace evo
