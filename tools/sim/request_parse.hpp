// The simulator's reading of a completion or chat request body: parsing,
// validation (OpenAI's 400s) and the cut of a generated text at the stop
// strings and max_tokens. Plain C++ (nlohmann::json), no HTTP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace evo::sim::detail {

// A 400: message and the offending field.
struct bad_request : std::runtime_error {
  std::string param;
  bad_request(const std::string& msg, std::string p = {}) : std::runtime_error(msg), param(std::move(p)) {}
};

// A parsed, validated completion or chat request.
struct gen_request {
  bool chat = false;
  bool fim = false;
  bool stream = false;
  int n = 1;
  std::optional<int64_t> max_tokens;
  double temperature = 1.0;
  double top_p = 1.0;
  std::vector<std::string> stop;
  std::optional<int64_t> seed;
  std::string model;
  size_t prompt_chars = 0;
  uint64_t prompt_hash = 0;
};

struct choice_out {
  std::string text;
  const char* finish = "stop";
  int64_t tokens = 0;
};

// One token is about four characters.
inline int64_t approx_tokens(size_t chars) { return int64_t((chars + 3) / 4); }

// Throw bad_request on an invalid body.
gen_request parse_completions(const nlohmann::json& body);
gen_request parse_chat(const nlohmann::json& body);

// Cut at the earliest stop string, then apply max_tokens.
choice_out finish_choice(std::string text, const gen_request& g);

}  // namespace evo::sim::detail
