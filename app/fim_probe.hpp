// api.fim.mode: auto: asks the server once at the start which way of putting
// FIM on the wire works (GET /models, then a one-token completion with a
// `suffix` field) and picks special_tokens or suffix, saying why.
#pragma once

#include <string>

#include "messages/settings.hpp"

namespace evo {

/// What the server answered to the probe's two requests (status 0: no
/// answer; `*_text`: the body, or the transport error).
struct fim_probe_answers {
  long models_status = 0;
  std::string models_text;
  long suffix_status = 0;
  std::string suffix_text;
};

struct fim_choice {
  fim_mode mode = fim_mode::special_tokens;
  std::string why;
  bool asked_suffix = false; ///< whether the suffix request was needed
};

/// The decision from the models list alone, when it names a server known
/// not to apply `suffix` on /completions (vLLM, SGLang, llama.cpp);
/// `suffix_status` 0 means the suffix request was not made.
fim_choice choose_fim_mode(const fim_probe_answers& a);

/// Runs the probe against `api` (its key, headers, TLS settings; at most
/// 10 s per request) for `model`; an unreachable server gives special_tokens
/// with the reason. Secrets never appear in `why`.
fim_choice probe_fim_mode(const api_config& api, const std::string& model);

/// For api.fim.mode: auto: probes (the embedded simulator is not asked: it
/// takes every mode), sets api.fim.mode and logs the pick and why.
void resolve_fim_mode(api_config& api, const std::string& model);

} // namespace evo
