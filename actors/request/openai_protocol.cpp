// Request bodies for FIM and L2R, and the SAX parsing of completion and
// server-sent-events bodies.
#include "actors/request/openai_protocol.hpp"

#include "actors/request/server_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>


namespace evo {

using nlohmann::json;

namespace {

void put_sampling(json& body, const sampling_params& p) {
  body["temperature"] = p.temperature;
  body["top_p"] = p.top_p;
  body["max_tokens"] = p.max_tokens;
  body["n"] = p.n;
  if (!p.stop.empty())
    body["stop"] = p.stop;
  if (p.seed)
    body["seed"] = *p.seed;
}

// Adds the keys of `extra` (sampling_params::extra_body) to `body`. Refuses
// anything but an object, and a key the body already has (a silent override
// of n or prompt would desynchronise the run's accounting).
void put_extra_body(json& body, const std::string& extra) {
  if (extra.empty())
    return;
  json obj = json::parse(extra, nullptr, false);
  if (obj.is_discarded() || !obj.is_object())
    throw std::invalid_argument("extra_body: expected a JSON object, got "
                                + excerpt(extra));
  for (auto& [key, value] : obj.items()) {
    if (body.contains(key))
      throw std::invalid_argument("extra_body: key '" + key
                                  + "' is already set by the request");
    body[key] = value;
  }
}

uint32_t to_u32(const json& j) {
  if (!j.is_number_integer() && !j.is_number_unsigned())
    return 0;
  auto v = j.get<int64_t>();
  return v < 0 ? 0 : static_cast<uint32_t>(std::min<int64_t>(v, UINT32_MAX));
}

// Reads one choice's text from a completion or chat choice object.
const json* choice_text(const json& choice) {
  if (auto it = choice.find("text"); it != choice.end() && it->is_string())
    return &*it;
  if (auto msg = choice.find("message");
      msg != choice.end() && msg->is_object()) {
    if (auto c = msg->find("content"); c != msg->end() && c->is_string())
      return &*c;
  }
  if (auto delta = choice.find("delta");
      delta != choice.end() && delta->is_object()) {
    if (auto c = delta->find("content"); c != delta->end() && c->is_string())
      return &*c;
  }
  return nullptr;
}

} // namespace

request_spec build_fim_request(const fim_config& fim, const std::string& model,
                               const std::string& prefix,
                               const std::string& suffix,
                               const sampling_params& params) {
  json body;
  body["model"] = model;
  request_spec spec;
  switch (fim.use_chat_for_fim ? fim_mode::chat : fim.mode) {
    case fim_mode::special_tokens:
      body["prompt"] = fim.prefix_token + prefix + fim.suffix_token + suffix
                       + fim.middle_token;
      break;
    case fim_mode::suffix:
      body["prompt"] = prefix;
      body["suffix"] = suffix;
      break;
    case fim_mode::chat:
      spec.endpoint = endpoint_kind::chat_completions;
      body["messages"] = json::array(
        {{{"role", "user"},
          {"content", "Complete the code between the prefix and the suffix. "
                      "Answer with the missing part only.\n"
                        + prefix + "<missing>" + suffix}}});
      body[fim.prefix_key] = prefix;
      body[fim.suffix_key] = suffix;
      break;
  }
  put_sampling(body, params);
  put_extra_body(body, params.extra_body);
  spec.body = body.dump();
  return spec;
}

request_spec build_l2r_request(const std::string& model,
                               const std::string& prompt,
                               const sampling_params& params) {
  json body;
  body["model"] = model;
  body["prompt"] = prompt;
  put_sampling(body, params);
  put_extra_body(body, params.extra_body);
  return {endpoint_kind::completions, body.dump()};
}

namespace {

// Reads a completion body event by event (no DOM: this is the hot path of
// every response). Keeps only what the pipeline uses: choices' texts and
// indices, model, usage, and whether an error is present.
class completion_reader : public nlohmann::json_sax<json> {
public:
  enum class role : uint8_t { root, choices, choice, message, usage, other };

  bool not_object = false;
  bool has_error = false;
  bool saw_choices = false;
  std::optional<std::string> problem; ///< a malformed choice
  std::vector<std::pair<size_t, std::string>> choices;
  std::string model;
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;

  bool null() override {
    if (!stack_.empty() && stack_.back().r == role::choices)
      return scalar();
    return true;
  }
  bool boolean(bool) override {
    return scalar();
  }
  bool number_integer(number_integer_t v) override {
    return number(v < 0 ? 0 : static_cast<uint64_t>(v), v >= 0);
  }
  bool number_unsigned(number_unsigned_t v) override {
    return number(v, true);
  }
  bool number_float(number_float_t, const string_t&) override {
    return scalar();
  }
  bool binary(binary_t&) override {
    return scalar();
  }
  bool string(string_t& v) override {
    if (stack_.empty()) {
      not_object = true;
      return true;
    }
    auto& top = stack_.back();
    if (top.r == role::choices)
      return scalar();
    if (top.r == role::root && top.key == "model")
      model = std::move(v);
    else if (top.r == role::root && top.key == "error")
      has_error = true;
    else if ((top.r == role::choice && top.key == "text")
             || (top.r == role::message && top.key == "content"))
      current_text_ = std::move(v), has_text_ = true;
    return true;
  }
  bool start_object(std::size_t) override {
    push(true);
    return true;
  }
  bool key(string_t& k) override {
    stack_.back().key = std::move(k);
    return true;
  }
  bool end_object() override {
    auto r = stack_.back().r;
    stack_.pop_back();
    if (r == role::choice) {
      if (!has_text_ && !problem)
        problem = "choice " + std::to_string(current_index_) + " has no text";
      choices.emplace_back(current_index_, std::move(current_text_));
      current_text_.clear();
    }
    return true;
  }
  bool start_array(std::size_t) override {
    push(false);
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }

private:
  struct frame {
    role r;
    std::string key; // objects: the key whose value comes next
  };

  bool scalar() {
    if (stack_.empty())
      not_object = true;
    else if (stack_.back().r == role::root && stack_.back().key == "error")
      has_error = true;
    else if (stack_.back().r == role::choices && !problem)
      problem = std::string{"a choice is not an object"};
    return true;
  }

  bool number(uint64_t v, bool non_negative) {
    if (stack_.empty()) {
      not_object = true;
      return true;
    }
    auto& top = stack_.back();
    auto clamp = static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
    if (top.r == role::choice && top.key == "index" && non_negative)
      current_index_ = static_cast<size_t>(v);
    else if (top.r == role::usage && top.key == "prompt_tokens")
      prompt_tokens = clamp;
    else if (top.r == role::usage && top.key == "completion_tokens")
      completion_tokens = clamp;
    else
      return scalar();
    return true;
  }

  void push(bool object) {
    role r = role::other;
    if (stack_.empty()) {
      r = object ? role::root : role::other;
      if (!object)
        not_object = true;
    } else {
      auto& parent = stack_.back();
      if (parent.r == role::root && parent.key == "choices" && !object) {
        r = role::choices;
        saw_choices = true;
      } else if (parent.r == role::root && parent.key == "usage" && object) {
        r = role::usage;
      } else if (parent.r == role::root && parent.key == "error") {
        has_error = true;
      } else if (parent.r == role::choices) {
        if (object) {
          r = role::choice;
          current_index_ = next_index_++;
          has_text_ = false;
        } else if (!problem) {
          problem = std::string{"a choice is not an object"};
        }
      } else if (parent.r == role::choice && object
                 && (parent.key == "message" || parent.key == "delta")) {
        r = role::message;
      }
    }
    stack_.push_back({r, {}});
  }

  std::vector<frame> stack_;
  size_t next_index_ = 0;
  size_t current_index_ = 0;
  std::string current_text_;
  bool has_text_ = false;
};

} // namespace

std::optional<std::string> parse_completion(std::string_view body,
                                            parsed_completion& out) {
  completion_reader reader;
  bool ok = json::sax_parse(body.begin(), body.end(), &reader,
                            json::input_format_t::json, true);
  if (!ok)
    return "response is not valid JSON: " + excerpt(body, 80);
  if (reader.not_object)
    return std::string{"response is not a JSON object"};
  if (reader.has_error)
    return "server error in body: " + error_summary(body);
  if (!reader.saw_choices)
    return std::string{"response has no 'choices' array"};
  // A stray value among the choices is reported first, as it makes the
  // list unreadable.
  if (reader.problem && reader.problem->rfind("a choice", 0) == 0)
    return reader.problem;
  auto count = reader.choices.size();
  out.choices.clear();
  out.choices.resize(count);
  std::vector<bool> seen(count, false);
  for (auto& [idx, text] : reader.choices) {
    if (idx >= count || seen[idx])
      return "choice index " + std::to_string(idx) + " out of range or repeated";
    out.choices[idx] = std::move(text);
    seen[idx] = true;
  }
  if (reader.problem)
    return reader.problem;
  out.model = std::move(reader.model);
  out.prompt_tokens = reader.prompt_tokens;
  out.completion_tokens = reader.completion_tokens;
  return std::nullopt;
}

std::optional<std::string> parse_sse_completion(std::string_view body,
                                                parsed_completion& out) {
  out.choices.clear();
  bool done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    auto line = body.substr(pos, eol == std::string_view::npos
                                   ? std::string_view::npos
                                   : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.rfind("data:", 0) != 0)
      continue; // comments, event names, blank separators
    auto data = line.substr(5);
    while (!data.empty() && data.front() == ' ')
      data.remove_prefix(1);
    if (data == "[DONE]") {
      done = true;
      break;
    }
    auto chunk = json::parse(data.begin(), data.end(), nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object())
      return "stream chunk is not valid JSON: " + excerpt(data, 80);
    if (auto err = chunk.find("error"); err != chunk.end() && !err->is_null())
      return "server error in stream: " + excerpt(data);
    if (auto m = chunk.find("model"); m != chunk.end() && m->is_string())
      out.model = m->get<std::string>();
    if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) {
      if (auto p = u->find("prompt_tokens"); p != u->end())
        out.prompt_tokens = to_u32(*p);
      if (auto p = u->find("completion_tokens"); p != u->end())
        out.completion_tokens = to_u32(*p);
    }
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array())
      continue;
    for (auto& c : *choices) {
      if (!c.is_object())
        return std::string{"stream choice is not an object"};
      size_t idx = 0;
      if (auto i = c.find("index"); i != c.end() && i->is_number_unsigned())
        idx = i->get<size_t>();
      if (idx > 4096)
        return "stream choice index " + std::to_string(idx) + " too large";
      if (idx >= out.choices.size())
        out.choices.resize(idx + 1);
      if (auto* text = choice_text(c))
        out.choices[idx] += text->get<std::string>();
    }
  }
  if (!done)
    return std::string{"stream ended without data: [DONE]"};
  return std::nullopt;
}

} // namespace evo
