// The OpenAI wire format: request bodies, response parsing, classification.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "actors/request/http_engine.hpp"
#include "actors/request/openai_protocol.hpp"

using namespace evo;
using nlohmann::json;

namespace {

sampling_params params_example() {
  sampling_params p;
  p.temperature = 0.7;
  p.top_p = 0.9;
  p.max_tokens = 12;
  p.n = 4;
  p.stop = {"(", "\n"};
  return p;
}

void check_sampling(const json& body, const sampling_params& p) {
  CHECK(body.at("temperature").get<double>() == doctest::Approx(p.temperature));
  CHECK(body.at("top_p").get<double>() == doctest::Approx(p.top_p));
  CHECK(body.at("max_tokens") == p.max_tokens);
  CHECK(body.at("n") == p.n);
  if (p.stop.empty())
    CHECK_FALSE(body.contains("stop"));
  else
    CHECK(body.at("stop") == json(p.stop));
  if (p.seed)
    CHECK(body.at("seed") == *p.seed);
  else
    CHECK_FALSE(body.contains("seed"));
}

const std::string prefix = "This is an algorithm function.\n\ndef ";
const std::string suffix = "():\n";

} // namespace

TEST_CASE("build_fim_request special_tokens puts the FIM tokens in one prompt") {
  fim_config fim; // special_tokens by default
  auto p = params_example();
  auto spec = build_fim_request(fim, "qwen", prefix, suffix, p);
  CHECK(spec.endpoint == endpoint_kind::completions);
  auto body = json::parse(spec.body);
  CHECK(body.at("model") == "qwen");
  CHECK(body.at("prompt")
        == "<|fim_prefix|>" + prefix + "<|fim_suffix|>" + suffix + "<|fim_middle|>");
  CHECK_FALSE(body.contains("suffix"));
  CHECK_FALSE(body.contains("messages"));
  check_sampling(body, p);
}

TEST_CASE("build_fim_request special_tokens uses custom tokens") {
  fim_config fim;
  fim.prefix_token = "<PRE>";
  fim.suffix_token = "<SUF>";
  fim.middle_token = "<MID>";
  auto spec = build_fim_request(fim, "m", "P", "S", {});
  CHECK(json::parse(spec.body).at("prompt") == "<PRE>P<SUF>S<MID>");
}

TEST_CASE("build_fim_request suffix mode sends prompt and suffix fields") {
  fim_config fim;
  fim.mode = fim_mode::suffix;
  auto p = params_example();
  p.seed = 1234;
  auto spec = build_fim_request(fim, "m", prefix, suffix, p);
  CHECK(spec.endpoint == endpoint_kind::completions);
  auto body = json::parse(spec.body);
  CHECK(body.at("prompt") == prefix);
  CHECK(body.at("suffix") == suffix);
  check_sampling(body, p);
}

TEST_CASE("build_fim_request chat mode: chat endpoint, messages and custom prefix/suffix keys") {
  fim_config fim;
  fim.mode = fim_mode::chat;
  fim.prefix_key = "input_prefix";
  fim.suffix_key = "input_suffix";
  auto p = params_example();
  auto spec = build_fim_request(fim, "m", prefix, suffix, p);
  CHECK(spec.endpoint == endpoint_kind::chat_completions);
  auto body = json::parse(spec.body);
  REQUIRE(body.at("messages").is_array());
  REQUIRE(body.at("messages").size() >= 1);
  CHECK(body.at("messages")[0].at("role") == "user");
  auto content = body.at("messages")[0].at("content").get<std::string>();
  CHECK(content.find(prefix) != std::string::npos);
  CHECK(content.find(suffix) != std::string::npos);
  CHECK(body.at("input_prefix") == prefix);
  CHECK(body.at("input_suffix") == suffix);
  CHECK_FALSE(body.contains("prefix"));
  CHECK_FALSE(body.contains("prompt"));
  check_sampling(body, p);
}

TEST_CASE("build_fim_request use_chat_for_fim forces chat") {
  fim_config fim;
  fim.mode = fim_mode::suffix;
  fim.use_chat_for_fim = true;
  auto spec = build_fim_request(fim, "m", prefix, suffix, {});
  CHECK(spec.endpoint == endpoint_kind::chat_completions);
  auto body = json::parse(spec.body);
  CHECK(body.at("prefix") == prefix);
  CHECK(body.at("suffix") == suffix);
  CHECK(body.contains("messages"));
}

TEST_CASE("build_l2r_request: model, prompt, sampling; stop absent when empty; seed only when set") {
  sampling_params p;
  p.temperature = 1.0;
  p.top_p = 1.0;
  p.max_tokens = 5;
  p.n = 3;
  auto spec = build_l2r_request("m", prefix, p);
  CHECK(spec.endpoint == endpoint_kind::completions);
  auto body = json::parse(spec.body);
  CHECK(body.at("model") == "m");
  CHECK(body.at("prompt") == prefix);
  CHECK_FALSE(body.contains("suffix"));
  check_sampling(body, p);
  CHECK_FALSE(body.contains("stop"));
  CHECK_FALSE(body.contains("seed"));

  p.stop = {"(", " ", "\n"};
  p.seed = 0; // a set seed of 0 is still sent
  body = json::parse(build_l2r_request("m", prefix, p).body);
  CHECK(body.at("stop") == json::array({"(", " ", "\n"}));
  CHECK(body.at("seed") == 0);
}

TEST_CASE("parse_completion reads a completions body, choices ordered by index") {
  auto body = R"({"id":"x","object":"text_completion","model":"sim-coder",
    "choices":[{"index":2,"text":"c"},{"index":0,"text":"a"},{"index":1,"text":"b"}],
    "usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
  parsed_completion out;
  auto err = parse_completion(body, out);
  REQUIRE_FALSE(err.has_value());
  CHECK(out.choices == std::vector<std::string>{"a", "b", "c"});
  CHECK(out.model == "sim-coder");
  CHECK(out.prompt_tokens == 11);
  CHECK(out.completion_tokens == 7);
}

TEST_CASE("parse_completion reads a chat body") {
  auto body = R"({"model":"chatty","choices":[
    {"index":1,"message":{"role":"assistant","content":"two"}},
    {"index":0,"message":{"role":"assistant","content":"one"}}]})";
  parsed_completion out;
  REQUIRE_FALSE(parse_completion(body, out).has_value());
  CHECK(out.choices == std::vector<std::string>{"one", "two"});
  CHECK(out.model == "chatty");
  CHECK(out.prompt_tokens == 0);
}

TEST_CASE("parse_completion without indices keeps list order") {
  parsed_completion out;
  REQUIRE_FALSE(parse_completion(R"({"choices":[{"text":"x"},{"text":"y"}]})", out));
  CHECK(out.choices == std::vector<std::string>{"x", "y"});
}

TEST_CASE("parse_completion returns an error for error bodies and garbage") {
  parsed_completion out;
  auto e1 = parse_completion(
    R"({"error":{"message":"model overloaded","type":"server_error"}})", out);
  REQUIRE(e1.has_value());
  CHECK(e1->find("model overloaded") != std::string::npos);

  const char* garbage[] = {
    "",
    "not json at all",
    "{\"choices\":[{\"text\":\"a\"}",         // truncated
    "[1,2,3]",                                  // array
    "\"str\"",
    "{}",                                       // missing choices
    "{\"choices\":{\"text\":\"a\"}}",           // choices not an array
    "{\"choices\":[{\"index\":0}]}",            // no text
    "{\"choices\":[{\"index\":0,\"text\":5}]}", // text not a string
    "{\"choices\":[42]}",                       // choice not an object
    "{\"choices\":[{\"index\":0,\"text\":\"a\"},{\"index\":0,\"text\":\"b\"}]}", // repeated
    "{\"choices\":[{\"index\":5,\"text\":\"a\"}]}", // out of range
  };
  for (auto* g : garbage) {
    CAPTURE(g);
    parsed_completion o;
    auto err = parse_completion(g, o);
    CHECK(err.has_value());
    if (err)
      CHECK_FALSE(err->empty());
  }
}

TEST_CASE("parse_sse_completion joins deltas per index and requires [DONE]") {
  std::string body =
    "data: {\"model\":\"s\",\"choices\":[{\"index\":0,\"text\":\"mer\"},{\"index\":1,\"text\":\"qu\"}]}\n\n"
    ": a comment line\n"
    "data: {\"choices\":[{\"index\":1,\"text\":\"ick\"}]}\r\n\r\n"
    "data:{\"choices\":[{\"index\":0,\"text\":\"ge\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
    "data: [DONE]\n\n";
  parsed_completion out;
  auto err = parse_sse_completion(body, out);
  REQUIRE_FALSE(err.has_value());
  CHECK(out.choices == std::vector<std::string>{"merge", "quick"});
  CHECK(out.model == "s");
  CHECK(out.prompt_tokens == 3);
  CHECK(out.completion_tokens == 4);

  parsed_completion chat;
  REQUIRE_FALSE(parse_sse_completion(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cd\"}}]}\n\n"
    "data: [DONE]\n",
    chat));
  CHECK(chat.choices == std::vector<std::string>{"abcd"});

  parsed_completion cut;
  auto e2 = parse_sse_completion(
    "data: {\"choices\":[{\"index\":0,\"text\":\"mer\"}]}\n\n", cut);
  CHECK(e2.has_value());

  parsed_completion bad;
  CHECK(parse_sse_completion("data: {oops\n\ndata: [DONE]\n", bad).has_value());
  parsed_completion err_chunk;
  CHECK(parse_sse_completion(
          "data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n", err_chunk)
          .has_value());
}

TEST_CASE("error_summary extracts error.message, else message, else an excerpt") {
  CHECK(error_summary(R"({"error":{"message":"Rate limit exceeded","type":"x"}})")
        == "Rate limit exceeded");
  CHECK(error_summary(R"({"error":"plain string"})") == "plain string");
  CHECK(error_summary(R"({"message":"top level"})") == "top level");
  CHECK(error_summary("Bad Gateway\n") == "Bad Gateway ");
  auto longer = std::string(1000, 'z');
  auto s = error_summary(longer);
  CHECK(s.size() < 300);
  CHECK(s.find("...") != std::string::npos);
}

namespace {

work_item item_example() {
  work_item it;
  it.job = 2;
  it.index = 99;
  it.attempt = 1;
  return it;
}

http_outcome transport_failure(transport_error code) {
  http_outcome o;
  o.error = code;
  o.error_text = "curl said no";
  o.latency_us = 1234;
  return o;
}

} // namespace

TEST_CASE("classify_outcome: a timeout, a connect failure, a receive failure") {
  auto it = item_example();
  auto t = classify_outcome(it, transport_failure(transport_error::timeout));
  CHECK(t.failure == failure_kind::timeout);
  CHECK(t.http_status == 0);
  CHECK(t.detail == "curl said no");
  CHECK(t.job == 2);
  CHECK(t.index == 99);
  CHECK(t.attempt == 1);
  CHECK(t.latency_us == 1234);
  CHECK_FALSE(t.ok());

  auto c = classify_outcome(it, transport_failure(transport_error::connect));
  CHECK(c.failure == failure_kind::connect);
  CHECK(classify_outcome(it, transport_failure(transport_error::connect)).failure
        == failure_kind::connect);

  auto r = classify_outcome(it, transport_failure(transport_error::recv));
  CHECK(r.failure == failure_kind::transport);
  CHECK(classify_outcome(it, transport_failure(transport_error::truncated)).failure
        == failure_kind::transport);
}

TEST_CASE("classify_outcome: HTTP 503 with body is an http_status failure with Retry-After") {
  http_outcome o;
  o.status = 503;
  o.retry_after_ms = 2000;
  o.body = R"({"error":{"message":"Service overloaded"}})";
  auto r = classify_outcome(item_example(), o);
  CHECK(r.failure == failure_kind::http_status);
  CHECK(r.http_status == 503);
  CHECK(r.retry_after_ms == 2000);
  CHECK(r.detail.find("503") != std::string::npos);
  CHECK(r.detail.find("Service overloaded") != std::string::npos);
  CHECK(r.choices.empty());

  http_outcome rl;
  rl.status = 429;
  rl.body = "slow down";
  auto r2 = classify_outcome(item_example(), rl);
  CHECK(r2.failure == failure_kind::http_status);
  CHECK(r2.http_status == 429);
  CHECK(r2.retry_after_ms == -1);
}

TEST_CASE("classify_outcome: 200 with a bad body is bad_body") {
  http_outcome o;
  o.status = 200;
  o.body = "{\"choices\":[{\"text\":\"abc\""; // truncated
  auto r = classify_outcome(item_example(), o);
  CHECK(r.failure == failure_kind::bad_body);
  CHECK(r.http_status == 200);
  CHECK_FALSE(r.detail.empty());

  o.body = "data: {\"choices\":[{\"index\":0,\"text\":\"a\"}]}\n\n"; // no [DONE]
  CHECK(classify_outcome(item_example(), o).failure == failure_kind::bad_body);
}

TEST_CASE("classify_outcome: 200 with a good body carries choices, model and usage") {
  http_outcome o;
  o.status = 200;
  o.latency_us = 500;
  o.body = R"({"model":"sim-coder","choices":[{"index":1,"text":"b"},{"index":0,"text":"a"}],
              "usage":{"prompt_tokens":5,"completion_tokens":2}})";
  auto r = classify_outcome(item_example(), o);
  CHECK(r.ok());
  CHECK(r.failure == failure_kind::none);
  CHECK(r.http_status == 200);
  CHECK(r.choices == std::vector<std::string>{"a", "b"});
  CHECK(r.model == "sim-coder");
  CHECK(r.prompt_tokens == 5);
  CHECK(r.completion_tokens == 2);
  CHECK(r.latency_us == 500);

  http_outcome sse;
  sse.status = 200;
  sse.body = "data: {\"choices\":[{\"index\":0,\"text\":\"x\"}]}\n\ndata: [DONE]\n\n";
  auto r2 = classify_outcome(item_example(), sse);
  CHECK(r2.ok());
  CHECK(r2.choices == std::vector<std::string>{"x"});
}

namespace {
// True when `s` is well-formed UTF-8 (nlohmann rejects anything else).
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size())
      return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
        return false;
    i += len;
  }
  return true;
}
} // namespace

TEST_CASE("error_summary of a short non-ASCII message keeps it intact") {
  auto msg = std::string("mod\xc3\xa8le surcharg\xc3\xa9 \xe6\xa8\xa1\xe5\x9e\x8b");
  json body = {{"error", {{"message", msg}}}};
  CHECK(error_summary(body.dump()) == msg);
  CHECK(valid_utf8(msg));
  CHECK_FALSE(valid_utf8("ab\xc3"));
}

// Regression (fixed): openai_protocol.cpp excerpt() cut at a byte count (200 for
// error_summary, 80 for "not valid JSON"), so a long non-ASCII server error
// message is cut in the middle of a UTF-8 sequence. The invalid UTF-8 then
// goes into attempt_result::detail / failure_record::reason and into
// failures.jsonl, which strict JSON readers (nlohmann, Python) reject.
TEST_CASE("error_summary cuts a long message on a UTF-8 character boundary"
         ) {
  std::string msg(199, 'a');
  for (int i = 0; i < 20; ++i)
    msg += "\xc3\xa9"; // e-acute, 2 bytes: byte 200 is a lead byte
  json body = {{"error", {{"message", msg}}}};
  auto s = error_summary(body.dump());
  CHECK(s.size() < msg.size() + 4);
  CHECK(s.rfind(std::string(199, 'a'), 0) == 0);
  CHECK(valid_utf8(s));
}
