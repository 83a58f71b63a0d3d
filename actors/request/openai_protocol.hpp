// The OpenAI wire format, both ways: request bodies for FIM / L2R and the
// parsing and classification of what comes back. No CAF, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/http_outcome.hpp"
#include "messages/settings.hpp"
#include "messages/work.hpp"

namespace evo {

/// A job's request: which endpoint and the JSON body every attempt sends.
struct request_spec {
  endpoint_kind endpoint = endpoint_kind::completions;
  std::string body;
};

/// FIM as configured: special-token prompt, `suffix` field, or chat with the
/// configured prefix/suffix keys.
request_spec build_fim_request(const fim_config& fim, const std::string& model,
                               const std::string& prefix,
                               const std::string& suffix,
                               const sampling_params& params);

/// Left to right: the prompt alone on /completions.
request_spec build_l2r_request(const std::string& model,
                               const std::string& prompt,
                               const sampling_params& params);

struct parsed_completion {
  std::vector<std::string> choices; ///< in choice-index order
  std::string model;
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
};

/// Parses a /completions or /chat/completions JSON body. Returns an error
/// description when the body is not a usable completion.
std::optional<std::string> parse_completion(std::string_view body,
                                            parsed_completion& out);

/// Parses a server-sent-events body (`data: {...}` chunks, `data: [DONE]`),
/// concatenating each choice's text deltas.
std::optional<std::string> parse_sse_completion(std::string_view body,
                                                parsed_completion& out);

/// The message of an OpenAI error body, or a short excerpt of the body,
/// with every one of `secrets` redacted before it is cut short.
std::string error_summary(std::string_view body,
                          const std::vector<std::string>& secrets = {});

/// Turns what the HTTP layer saw into the classified result of one attempt.
/// The failure reason (`detail`) is safe text: `secrets` redacted, valid
/// UTF-8, no raw control characters (see server_text.hpp).
attempt_result classify_outcome(const work_item& item,
                                const http_outcome& outcome,
                                const std::vector<std::string>& secrets = {});

} // namespace evo
