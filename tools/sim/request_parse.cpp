// Parsing and validation of request bodies (see request_parse.hpp).
#include "tools/sim/request_parse.hpp"

#include <algorithm>

#include "tools/sim/name_gen.hpp"

namespace evo::sim::detail {

using json = nlohmann::json;

namespace {

bool has_fim_tokens(const std::string& s) {
  return (s.find("<|fim_prefix|>") != std::string::npos && s.find("<|fim_middle|>") != std::string::npos) ||
         (s.find("<fim_prefix>") != std::string::npos && s.find("<fim_middle>") != std::string::npos);
}

void read_stop(const json& body, gen_request& g) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return;
  if (it->is_string()) {
    g.stop.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_string()) throw bad_request("'stop' must be a string or an array of strings", "stop");
      g.stop.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'stop' must be a string or an array of strings", "stop");
  }
  g.stop.erase(std::remove(g.stop.begin(), g.stop.end(), std::string()), g.stop.end());
}

void read_common(const json& body, gen_request& g) {
  auto num = [&](const char* key, double lo, double hi, double& out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return;
    if (!it->is_number()) throw bad_request(std::string("'") + key + "' must be a number", key);
    double v = it->get<double>();
    if (!(v >= lo && v <= hi)) throw bad_request(std::string("'") + key + "' is out of range", key);
    out = v;
  };
  num("temperature", 0.0, 2.0, g.temperature);
  num("top_p", 0.0, 1.0, g.top_p);
  if (auto it = body.find("top_p"); it != body.end() && it->is_number() && g.top_p <= 0.0)
    throw bad_request("'top_p' must be in (0, 1]", "top_p");

  if (auto it = body.find("n"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw bad_request("'n' must be an integer", "n");
    int64_t n = it->get<int64_t>();
    if (n < 1) throw bad_request("'n' must be at least 1", "n");
    if (n > 1024) throw bad_request("'n' must be at most 1024", "n");
    g.n = int(n);
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_number_integer()) throw bad_request(std::string("'") + key + "' must be an integer", key);
    int64_t m = it->get<int64_t>();
    if (m < 0) throw bad_request(std::string("'") + key + "' must be non-negative", key);
    g.max_tokens = m;
  }
  if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw bad_request("'seed' must be an integer", "seed");
    g.seed = it->is_number_unsigned() ? int64_t(it->get<uint64_t>()) : it->get<int64_t>();
  }
  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) throw bad_request("'stream' must be a boolean", "stream");
    g.stream = it->get<bool>();
  }
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) throw bad_request("'model' must be a string", "model");
    g.model = it->get<std::string>();
  }
  read_stop(body, g);
}

}  // namespace

gen_request parse_completions(const json& body) {
  if (!body.is_object()) throw bad_request("request body must be a JSON object");
  gen_request g;
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) throw bad_request("'prompt' is required", "prompt");
  const std::string* prompt = nullptr;
  if (it->is_string()) {
    prompt = it->get_ptr<const std::string*>();
  } else if (it->is_array()) {
    if (it->size() != 1 || !(*it)[0].is_string())
      throw bad_request("'prompt' must be a string or an array of exactly one string", "prompt");
    prompt = (*it)[0].get_ptr<const std::string*>();
  } else {
    throw bad_request("'prompt' must be a string or an array of one string", "prompt");
  }
  g.prompt_chars = prompt->size();
  g.prompt_hash = detail::hash_bytes(*prompt);
  if (auto s = body.find("suffix"); s != body.end() && !s->is_null()) {
    if (!s->is_string()) throw bad_request("'suffix' must be a string", "suffix");
    g.fim = true;
    g.prompt_chars += s->get_ptr<const std::string*>()->size();
  }
  if (!g.fim && has_fim_tokens(*prompt)) g.fim = true;
  read_common(body, g);
  return g;
}

gen_request parse_chat(const json& body) {
  if (!body.is_object()) throw bad_request("request body must be a JSON object");
  gen_request g;
  g.chat = true;
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) throw bad_request("'messages' is required", "messages");
  if (!it->is_array() || it->empty()) throw bad_request("'messages' must be a non-empty array", "messages");
  uint64_t h = 0;
  for (const auto& m : *it) {
    if (!m.is_object()) throw bad_request("each message must be an object", "messages");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) throw bad_request("each message needs a string 'role'", "messages");
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) continue;
    if (content->is_string()) {
      const auto& c = content->get_ref<const std::string&>();
      g.prompt_chars += c.size();
      h = detail::hash_bytes(c, h);
      if (has_fim_tokens(c)) g.fim = true;
    } else if (content->is_array()) {
      for (const auto& part : *content) {
        if (!part.is_object()) throw bad_request("message content parts must be objects", "messages");
        auto t = part.find("text");
        if (t != part.end() && t->is_string()) {
          g.prompt_chars += t->get_ref<const std::string&>().size();
          h = detail::hash_bytes(t->get_ref<const std::string&>(), h);
        }
      }
    } else {
      throw bad_request("message 'content' must be a string, an array or null", "messages");
    }
  }
  // FIM through chat: extra body fields such as prefix/suffix (the key names
  // are configurable in the client, so any string field named *prefix* or
  // *suffix* counts).
  for (auto f = body.begin(); f != body.end(); ++f) {
    const std::string& k = f.key();
    if ((k.find("suffix") != std::string::npos || k.find("prefix") != std::string::npos) && f->is_string()) {
      g.fim = true;
      g.prompt_chars += f->get_ref<const std::string&>().size();
      if (k.find("prefix") != std::string::npos) h = detail::hash_bytes(f->get_ref<const std::string&>(), h);
    }
  }
  g.prompt_hash = h;
  read_common(body, g);
  return g;
}

choice_out finish_choice(std::string text, const gen_request& g) {
  choice_out c;
  size_t cut = std::string::npos;
  for (const auto& s : g.stop) {
    size_t p = text.find(s);
    if (p < cut) cut = p;
  }
  if (cut != std::string::npos) text.resize(cut);
  if (g.max_tokens && approx_tokens(text.size()) > *g.max_tokens) {
    text.resize(size_t(*g.max_tokens) * 4);
    c.finish = "length";
  }
  c.tokens = approx_tokens(text.size());
  c.text = std::move(text);
  return c;
}

}  // namespace evo::sim::detail
