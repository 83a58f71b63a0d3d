#include "app/fim_probe.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "actors/request/openai_protocol.hpp"
#include "actors/request/server_text.hpp"

namespace evo {

namespace {

/// The server family a /models answer names in owned_by, or "".
std::string known_server(const std::string& models_body) {
  auto j = nlohmann::json::parse(models_body, nullptr, false);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
    return {};
  for (auto& m : j["data"]) {
    if (!m.is_object() || !m.contains("owned_by") || !m["owned_by"].is_string())
      continue;
    auto owner = m["owned_by"].get<std::string>();
    if (owner == "vllm")
      return "vLLM";
    if (owner == "sglang")
      return "SGLang";
    if (owner == "llamacpp")
      return "llama.cpp";
  }
  return {};
}

size_t keep_body(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  auto len = size * n;
  if (s->size() < 65536)
    s->append(data, std::min(len, 65536 - s->size()));
  return len;
}

/// One request; status 0 and the curl error in `text` when no answer came.
long call(const api_config& api, const std::string& path,
          const std::string* post_body, std::string& text) {
  static const bool init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)init;
  std::unique_ptr<CURL, void (*)(CURL*)> easy{curl_easy_init(),
                                              curl_easy_cleanup};
  if (!easy) {
    text = "curl_easy_init failed";
    return 0;
  }
  auto url = api.base_url + path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!api.api_key.empty())
    headers = curl_slist_append(headers,
                                ("Authorization: Bearer " + api.api_key).c_str());
  for (auto& [k, v] : api.extra_headers)
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> hold{headers,
                                                          curl_slist_free_all};
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::min(api.timeout_s, 10.0) * 1000));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &text);
  if (!api.ca_file.empty())
    curl_easy_setopt(e, CURLOPT_CAINFO, api.ca_file.c_str());
  if (api.insecure_skip_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (post_body != nullptr) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(post_body->size()));
  }
  auto rc = curl_easy_perform(e);
  if (rc != CURLE_OK) {
    text = curl_easy_strerror(rc);
    return 0;
  }
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

} // namespace

fim_choice choose_fim_mode(const fim_probe_answers& a) {
  fim_choice c;
  if (a.models_status >= 200 && a.models_status < 300) {
    auto server = known_server(a.models_text);
    if (!server.empty()) {
      c.why = "GET /models names " + server + ", whose /completions does not "
              "apply a suffix field";
      return c;
    }
  }
  c.asked_suffix = true;
  if (a.suffix_status >= 200 && a.suffix_status < 300) {
    c.mode = fim_mode::suffix;
    c.why = "the server took a completion with a suffix field (HTTP "
            + std::to_string(a.suffix_status) + ")";
  } else if (a.suffix_status >= 400 && a.suffix_status < 500) {
    c.why = "the server refused a completion with a suffix field (HTTP "
            + std::to_string(a.suffix_status) + ": " + a.suffix_text + ")";
  } else {
    c.why = "the probe got no usable answer ("
            + (a.suffix_status > 0 ? "HTTP " + std::to_string(a.suffix_status)
                                   : a.suffix_text)
            + "); special_tokens, the default";
  }
  return c;
}

fim_choice probe_fim_mode(const api_config& api, const std::string& model) {
  std::vector<std::string> secrets;
  if (!api.api_key.empty())
    secrets.push_back(api.api_key);
  for (auto& h : api.extra_headers)
    secrets.push_back(h.second);
  fim_probe_answers a;
  a.models_status = call(api, "/models", nullptr, a.models_text);
  auto first = choose_fim_mode(a);
  if (!first.asked_suffix)
    return first;
  nlohmann::json body{{"model", model},      {"prompt", "def "},
                      {"suffix", "():\n"},   {"max_tokens", 1},
                      {"n", 1},              {"temperature", 0}};
  auto text = body.dump();
  std::string answer;
  a.suffix_status = call(api, "/completions", &text, answer);
  a.suffix_text = a.suffix_status > 0 ? error_summary(answer, secrets)
                                      : safe_server_text(answer, secrets);
  return choose_fim_mode(a);
}

void resolve_fim_mode(api_config& api, const std::string& model) {
  fim_choice c;
  if (api.is_embedded())
    c.why = "the embedded simulator takes every mode";
  else
    c = probe_fim_mode(api, model);
  api.fim.mode = c.mode;
  spdlog::info("api.fim.mode auto: {} ({})", to_string(c.mode), c.why);
}

} // namespace evo
