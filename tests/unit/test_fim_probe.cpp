// fim_probe: which FIM mode api.fim.mode: auto picks from the server's
// answers.
#include <doctest/doctest.h>

#include "app/fim_probe.hpp"

using evo::choose_fim_mode;
using evo::fim_mode;
using evo::fim_probe_answers;

namespace {

fim_probe_answers models_owned_by(const std::string& owner) {
  fim_probe_answers a;
  a.models_status = 200;
  a.models_text = R"({"object":"list","data":[{"id":"m","object":"model","owned_by":")"
                  + owner + R"("}]})";
  return a;
}

} // namespace

TEST_CASE("servers known not to apply suffix get special_tokens without a "
          "completion") {
  for (auto [owner, name] : {std::pair{"vllm", "vLLM"}, std::pair{"sglang", "SGLang"},
                             std::pair{"llamacpp", "llama.cpp"}}) {
    CAPTURE(owner);
    auto c = choose_fim_mode(models_owned_by(owner));
    CHECK(c.mode == fim_mode::special_tokens);
    CHECK_FALSE(c.asked_suffix);
    CHECK(c.why == std::string("GET /models names ") + name
                     + ", whose /completions does not apply a suffix field");
  }
}

TEST_CASE("other servers: a suffix taken means suffix, refused means "
          "special_tokens") {
  auto a = models_owned_by("openai");
  auto first = choose_fim_mode(a);
  CHECK(first.asked_suffix);
  a.suffix_status = 200;
  auto took = choose_fim_mode(a);
  CHECK(took.mode == fim_mode::suffix);
  CHECK(took.why == "the server took a completion with a suffix field (HTTP 200)");
  a.suffix_status = 400;
  a.suffix_text = "suffix is not currently supported";
  auto refused = choose_fim_mode(a);
  CHECK(refused.mode == fim_mode::special_tokens);
  CHECK(refused.why == "the server refused a completion with a suffix field "
                       "(HTTP 400: suffix is not currently supported)");
  // No answer at all (and no models list): the default, with the reason.
  fim_probe_answers none;
  none.suffix_text = "Couldn't connect to server";
  auto down = choose_fim_mode(none);
  CHECK(down.mode == fim_mode::special_tokens);
  CHECK(down.why == "the probe got no usable answer (Couldn't connect to "
                    "server); special_tokens, the default");
  a.suffix_status = 503;
  CHECK(choose_fim_mode(a).mode == fim_mode::special_tokens);
}
