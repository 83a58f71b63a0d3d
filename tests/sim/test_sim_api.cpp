// Simulator: endpoints, fields, content, determinism, validation, streaming.
#include <doctest/doctest.h>

#include <set>

#include "tests/sim/sim_test_util.hpp"

using simtest::json;
using simtest::sim;

static const char* const k_prompt = "This is an algorithm function.\n\ndef ";

TEST_CASE("sim: /health and /v1/models") {
  sim s;
  auto c = s.client();
  auto h = c->Get("/health");
  REQUIRE(h);
  CHECK(h->status == 200);
  auto m = c->Get("/v1/models");
  REQUIRE(m);
  CHECK(m->status == 200);
  auto j = json::parse(m->body);
  CHECK(j.at("object") == "list");
  REQUIRE(j.at("data").size() == 1);
  CHECK(j["data"][0].at("id") == "sim-coder");
  CHECK(j["data"][0].at("object") == "model");
}

TEST_CASE("sim: /v1/completions L2R shape, n choices, usage") {
  sim s;
  auto j = s.completions({{"model", "Qwen2.5-Coder-32B"}, {"prompt", k_prompt}, {"n", 5}, {"temperature", 0.8}});
  CHECK(j.at("object") == "text_completion");
  CHECK(j.at("id").get<std::string>().rfind("cmpl-", 0) == 0);
  CHECK(j.at("created").is_number_integer());
  CHECK(j.at("model") == "Qwen2.5-Coder-32B");  // echoes the requested model
  REQUIRE(j.at("choices").size() == 5);
  int64_t total = 0;
  for (size_t i = 0; i < 5; ++i) {
    const auto& ch = j["choices"][i];
    CHECK(ch.at("index") == i);
    CHECK(ch.at("logprobs").is_null());
    CHECK(ch.at("finish_reason") == "stop");
    const auto t = ch.at("text").get<std::string>();
    // L2R: the name continues into the rest of a def line.
    CHECK(t.find("(") != std::string::npos);
    CHECK(t.find("):\n") != std::string::npos);
    total += int64_t((t.size() + 3) / 4);
  }
  const auto& u = j.at("usage");
  CHECK(u.at("prompt_tokens").get<int64_t>() > 0);
  CHECK(u.at("completion_tokens").get<int64_t>() == total);
  CHECK(u.at("total_tokens").get<int64_t>() ==
        u.at("prompt_tokens").get<int64_t>() + u.at("completion_tokens").get<int64_t>());
  // Without a model field the configured model name is reported.
  auto k = s.completions({{"prompt", k_prompt}});
  CHECK(k.at("model") == "sim-coder");
  CHECK(k.at("choices").size() == 1);
}

TEST_CASE("sim: prompt as an array of one string") {
  sim s;
  auto j = s.completions({{"prompt", json::array({k_prompt})}, {"n", 2}});
  CHECK(j.at("choices").size() == 2);
}

TEST_CASE("sim: stop strings cut the text, finish_reason stop") {
  sim s;
  auto j = s.completions({{"prompt", k_prompt}, {"n", 50}, {"stop", {"(", " ", "\n"}}, {"temperature", 1.0}});
  int valid = 0;
  for (const auto& ch : j.at("choices")) {
    auto t = ch.at("text").get<std::string>();
    CHECK(t.find_first_of("( \n") == std::string::npos);
    CHECK(ch.at("finish_reason") == "stop");
    valid += simtest::is_snake_name(t);
  }
  CHECK(valid >= 40);  // mostly clean names; a few junk choices are expected
  // stop as a single string
  auto k = s.completions({{"prompt", k_prompt}, {"n", 10}, {"stop", "("}});
  for (const auto& t : simtest::texts(k)) CHECK(t.find('(') == std::string::npos);
}

TEST_CASE("sim: max_tokens truncates, finish_reason length") {
  sim s;
  auto j = s.completions({{"prompt", k_prompt}, {"n", 20}, {"max_tokens", 2}});
  for (const auto& ch : j.at("choices")) {
    CHECK(ch.at("text").get<std::string>().size() <= 8);
    CHECK(ch.at("finish_reason") == "length");  // L2R texts are always longer than 8 chars
  }
  CHECK(j.at("usage").at("completion_tokens").get<int64_t>() <= 40);
  auto z = s.completions({{"prompt", k_prompt}, {"max_tokens", 0}});
  CHECK(z["choices"][0].at("text") == "");
  CHECK(z["choices"][0].at("finish_reason") == "length");
  // A generous limit leaves a stop-terminated name alone.
  auto g = s.completions({{"prompt", k_prompt}, {"n", 10}, {"max_tokens", 64}, {"stop", {"("}}});
  for (const auto& ch : g.at("choices")) CHECK(ch.at("finish_reason") == "stop");
}

namespace {
// FIM answers are bare names (modulo a little junk), never a def line.
void check_fim(const std::vector<std::string>& ts) {
  REQUIRE(ts.size() == 40);
  int valid = 0;
  for (const auto& t : ts) {
    CHECK(t.find("(") == std::string::npos);
    CHECK(t.find("\n") == std::string::npos);
    valid += simtest::is_snake_name(t);
  }
  CHECK(valid >= 30);
}
}  // namespace

TEST_CASE("sim: FIM recognised three ways") {
  sim s;
  SUBCASE("suffix field") {
    check_fim(simtest::texts(s.completions({{"prompt", k_prompt}, {"suffix", "():\n"}, {"n", 40}})));
  }
  SUBCASE("FIM special tokens in the prompt") {
    std::string p = std::string("<|fim_prefix|>") + k_prompt + "<|fim_suffix|>():\n<|fim_middle|>";
    check_fim(simtest::texts(s.completions({{"prompt", p}, {"n", 40}})));
  }
  SUBCASE("chat with prefix/suffix fields") {
    auto j = s.chat({{"messages", {{{"role", "user"}, {"content", "Complete the function name."}}}},
                     {"prefix", k_prompt},
                     {"suffix", "():\n"},
                     {"n", 40}});
    CHECK(j.at("object") == "chat.completion");
    CHECK(j.at("id").get<std::string>().rfind("chatcmpl-", 0) == 0);
    for (const auto& ch : j.at("choices")) {
      CHECK(ch.at("message").at("role") == "assistant");
      CHECK(ch.at("logprobs").is_null());
    }
    check_fim(simtest::texts(j));
  }
}

TEST_CASE("sim: chat without FIM fields answers a def line; honours stop and max_tokens") {
  sim s;
  auto j = s.chat({{"messages", {{{"role", "system"}, {"content", "You write Python."}},
                                 {{"role", "user"}, {"content", "def "}}}},
                   {"n", 3},
                   {"temperature", 0.5},
                   {"top_p", 0.9},
                   {"seed", 7}});
  REQUIRE(j.at("choices").size() == 3);
  for (const auto& t : simtest::texts(j)) CHECK(t.find('(') != std::string::npos);
  auto k = s.chat({{"messages", {{{"role", "user"}, {"content", "def "}}}}, {"stop", {"("}}, {"max_tokens", 100}});
  CHECK(simtest::texts(k)[0].find('(') == std::string::npos);
  CHECK(k["choices"][0].at("finish_reason") == "stop");
  auto m = s.chat({{"messages", {{{"role", "user"}, {"content", "def "}}}}, {"max_tokens", 1}});
  CHECK(m["choices"][0].at("finish_reason") == "length");
  CHECK(simtest::texts(m)[0].size() <= 4);
}

TEST_CASE("sim: low temperature repeats, high temperature varies") {
  sim s;
  auto distinct = [&](double t) {
    auto j = s.completions(
        {{"prompt", k_prompt}, {"suffix", "():\n"}, {"n", 200}, {"temperature", t}, {"stop", {"(", " ", "\n"}}});
    std::set<std::string> d;
    for (const auto& x : simtest::texts(j)) d.insert(x);
    return d.size();
  };
  const auto cold = distinct(0.2), warm = distinct(1.0);
  CHECK(cold <= 15);   // a handful of names (+ a little junk)
  CHECK(warm >= 100);  // mostly distinct
  CHECK(distinct(0.0) <= 8);
}

TEST_CASE("sim: vocabulary N gives uniformly drawn distinct names") {
  evo::sim::sim_options o;
  o.vocabulary = 1000000;
  sim s(o);
  auto j = s.completions({{"prompt", k_prompt}, {"suffix", "()"}, {"n", 300}, {"temperature", 0.2}});
  std::set<std::string> d;
  int with_suffix = 0;
  for (const auto& t : simtest::texts(j)) {
    d.insert(t);
    auto us = t.find_last_of('_');
    if (us != std::string::npos && us + 1 < t.size() && std::isdigit(static_cast<unsigned char>(t[us + 1])))
      ++with_suffix;
  }
  CHECK(d.size() >= 285);  // even at low temperature: uniform over 1M names
  CHECK(with_suffix >= 270);
}

TEST_CASE("sim: deterministic by seed") {
  evo::sim::sim_options o;
  o.seed = 42;
  json body = {{"prompt", k_prompt}, {"n", 8}, {"temperature", 1.0}, {"seed", 1234}};
  SUBCASE("request seed: same body -> same output, across servers and request order") {
    sim a(o), b(o);
    a.completions({{"prompt", "warm up"}});  // a different history does not matter
    auto x = simtest::texts(a.completions(body));
    auto y = simtest::texts(b.completions(body));
    auto z = simtest::texts(a.completions(body));
    CHECK(x == y);
    CHECK(x == z);
    json other = body;
    other["seed"] = 1235;
    CHECK(simtest::texts(a.completions(other)) != x);
  }
  SUBCASE("no request seed: server seed + request order") {
    json nb = body;
    nb.erase("seed");
    sim a(o), b(o);
    std::vector<std::vector<std::string>> ra, rb;
    for (int i = 0; i < 3; ++i) ra.push_back(simtest::texts(a.completions(nb)));
    for (int i = 0; i < 3; ++i) rb.push_back(simtest::texts(b.completions(nb)));
    CHECK(ra == rb);
    CHECK(ra[0] != ra[1]);
    evo::sim::sim_options o2 = o;
    o2.seed = 43;
    sim c(o2);
    CHECK(simtest::texts(c.completions(nb)) != ra[0]);
  }
}

namespace {
// Parse an SSE body; every event must be "data: ...\n\n"; returns the JSON
// chunks and whether the stream ended in [DONE].
std::vector<json> parse_sse(const std::string& body, bool& done) {
  std::vector<json> out;
  done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    REQUIRE(end != std::string::npos);
    std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    REQUIRE(ev.rfind("data: ", 0) == 0);
    std::string data = ev.substr(6);
    CHECK_FALSE(done);  // nothing after [DONE]
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    out.push_back(json::parse(data));
  }
  return out;
}
}  // namespace

TEST_CASE("sim: stream true answers server-sent events ending in [DONE]") {
  sim s;
  SUBCASE("completions") {
    auto r = s.post("/v1/completions", {{"prompt", k_prompt}, {"n", 2}, {"stream", true}, {"stop", {"("}}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type").rfind("text/event-stream", 0) == 0);
    bool done = false;
    auto chunks = parse_sse(r->body, done);
    CHECK(done);
    std::string text[2];
    int finished = 0;
    for (const auto& c : chunks) {
      CHECK(c.at("object") == "text_completion");
      const auto& ch = c.at("choices").at(0);
      text[ch.at("index").get<size_t>()] += ch.at("text").get<std::string>();
      if (!ch.at("finish_reason").is_null()) ++finished;
    }
    CHECK(finished == 2);
    for (const auto& t : text) CHECK(t.find('(') == std::string::npos);
    CHECK_FALSE(text[0].empty());
  }
  SUBCASE("chat") {
    auto r = s.post("/v1/chat/completions",
                    {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"suffix", "()"}, {"stream", true}});
    REQUIRE(r);
    CHECK(r->status == 200);
    bool done = false;
    auto chunks = parse_sse(r->body, done);
    CHECK(done);
    REQUIRE(chunks.size() >= 2);
    CHECK(chunks.front().at("object") == "chat.completion.chunk");
    CHECK(chunks.front()["choices"][0].at("delta").at("role") == "assistant");
    CHECK(chunks.back()["choices"][0].at("finish_reason") == "stop");
  }
}

TEST_CASE("sim: bad requests answer 400 with the OpenAI error shape; server stays healthy") {
  sim s;
  const std::vector<std::pair<std::string, std::string>> corpus = {
      {"/v1/completions", ""},
      {"/v1/completions", "{"},
      {"/v1/completions", "not json at all"},
      {"/v1/completions", "[1,2,3]"},
      {"/v1/completions", "null"},
      {"/v1/completions", "{}"},
      {"/v1/completions", R"({"prompt": 42})"},
      {"/v1/completions", R"({"prompt": []})"},
      {"/v1/completions", R"({"prompt": ["a", "b"]})"},
      {"/v1/completions", R"({"prompt": [1]})"},
      {"/v1/completions", R"({"prompt": "x", "n": 0})"},
      {"/v1/completions", R"({"prompt": "x", "n": -3})"},
      {"/v1/completions", R"({"prompt": "x", "n": "2"})"},
      {"/v1/completions", R"({"prompt": "x", "n": 1.5})"},
      {"/v1/completions", R"({"prompt": "x", "max_tokens": -1})"},
      {"/v1/completions", R"({"prompt": "x", "max_tokens": "16"})"},
      {"/v1/completions", R"({"prompt": "x", "temperature": "hot"})"},
      {"/v1/completions", R"({"prompt": "x", "temperature": -0.5})"},
      {"/v1/completions", R"({"prompt": "x", "top_p": 0})"},
      {"/v1/completions", R"({"prompt": "x", "stop": 5})"},
      {"/v1/completions", R"({"prompt": "x", "stop": ["(", 3]})"},
      {"/v1/completions", R"({"prompt": "x", "suffix": 7})"},
      {"/v1/completions", R"({"prompt": "x", "stream": "yes"})"},
      {"/v1/completions", R"({"prompt": "x", "seed": "abc"})"},
      {"/v1/completions", R"({"prompt": "x", "model": 12})"},
      {"/v1/completions", std::string("{\"prompt\": \"\xff\xfe\"}")},
      {"/v1/chat/completions", "{}"},
      {"/v1/chat/completions", R"({"messages": "hello"})"},
      {"/v1/chat/completions", R"({"messages": []})"},
      {"/v1/chat/completions", R"({"messages": [1, 2]})"},
      {"/v1/chat/completions", R"({"messages": [{"content": "no role"}]})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": 5}]})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "n": 0})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": -5})"},
  };
  for (const auto& [path, body] : corpus) {
    CAPTURE(path);
    CAPTURE(body);
    auto r = s.post_raw(path, body);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(simtest::is_error_shape(r->body));
  }
  // Unknown paths and methods: 404 with the error shape.
  auto c = s.client();
  for (const char* p : {"/", "/v1", "/v1/complete", "/v2/completions", "/v1/models/extra"}) {
    CAPTURE(p);
    auto r = c->Get(p);
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(simtest::is_error_shape(r->body));
  }
  auto g = c->Get("/v1/completions");
  REQUIRE(g);
  CHECK(g->status == 404);
  // Unknown X-Sim-Fault kind is a client error too.
  auto f = s.post("/v1/completions", {{"prompt", "x"}}, {{"X-Sim-Fault", "explode"}});
  REQUIRE(f);
  CHECK(f->status == 400);
  CHECK(simtest::is_error_shape(f->body));
  CHECK(s.healthy());
  CHECK(s.completions({{"prompt", k_prompt}}).at("choices").size() == 1);
}

TEST_CASE("sim: extra and null fields are accepted") {
  sim s;
  auto j = s.completions({{"prompt", k_prompt},
                          {"suffix", nullptr},
                          {"max_tokens", nullptr},
                          {"stop", nullptr},
                          {"logprobs", nullptr},
                          {"echo", false},
                          {"user", "someone"},
                          {"presence_penalty", 0.1}});
  CHECK(j.at("choices").size() == 1);
  // suffix: null is not FIM
  CHECK(simtest::texts(j)[0].find('(') != std::string::npos);
}
