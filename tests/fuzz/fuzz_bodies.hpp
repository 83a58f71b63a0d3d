// The bodies of the libFuzzer targets, shared with the regression test
// (tests/reliability/test_fuzz_regressions.cpp), which replays every file of
// tests/fuzz/regressions/<target>/ through the same function. A property that
// does not hold calls fuzz_fail() (abort: libFuzzer records the input).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "config/config_loader.hpp"
#include "request/openai_protocol.hpp"
#include "writer/name_filter.hpp"
#include "writer/output_folder.hpp"

namespace evo::fuzz {

// Overridable so the doctest replay can turn a failed property into a
// test failure instead of an abort.
inline void (*fuzz_fail_hook)(const char*) = nullptr;

inline void fuzz_fail(const char* what) {
  if (fuzz_fail_hook) {
    fuzz_fail_hook(what);
    return;
  }
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

/// Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
        || (len == 4 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// --- fuzz_response: parse_completion, parse_sse_completion, error_summary ---
inline void response_one(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  parsed_completion a;
  auto ea = parse_completion(body, a);
  if (!ea && !nlohmann::json::accept(body.begin(), body.end()))
    fuzz_fail("parse_completion accepted a body that is not JSON");
  parsed_completion b;
  auto eb = parse_sse_completion(body, b);
  (void)eb;
  auto summary = error_summary(body);
  // An excerpt: bounded, one line, and valid UTF-8 when the body was (it is
  // written into failures.jsonl).
  if (summary.size() > 200 + 3)
    fuzz_fail("error_summary longer than 200 bytes + \"...\"");
  if (summary.find('\n') != std::string::npos
      || summary.find('\r') != std::string::npos)
    fuzz_fail("error_summary has a line break");
  if (valid_utf8(body) && !valid_utf8(summary))
    fuzz_fail("error_summary cut a UTF-8 sequence");
  if (ea && valid_utf8(body) && !valid_utf8(*ea))
    fuzz_fail("parse_completion error cut a UTF-8 sequence");
}

// --- fuzz_config: load_datagen_config on arbitrary datagen.yaml bytes ---
// `dir` is a scratch folder: datagen.yaml is written there (a model_config
// naming a file resolves inside it).
inline void config_one(const uint8_t* data, size_t size, const std::string& dir) {
  const std::string path = dir + "/datagen.yaml";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  env_lookup no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  try {
    auto cfg = load_datagen_config(path, no_env);
    (void)cfg;
  } catch (const config_error& e) {
    std::string_view msg = e.what();
    if (msg.empty())
      fuzz_fail("config_error with an empty message");
    // EVO_FUZZ_CONFIG_MULTILINE_OK=1 skips this check (to look for other
    // findings while the known one is open).
    static const bool multiline_ok = std::getenv("EVO_FUZZ_CONFIG_MULTILINE_OK") != nullptr;
    if (!multiline_ok && (msg.find('\n') != std::string_view::npos
                          || msg.find('\r') != std::string_view::npos))
      fuzz_fail("config_error message is more than one line");
  }
  // Any other exception escapes: libFuzzer reports it as a crash.
}

// --- fuzz_name: extract_name, name_filter::check, append_json_string ---
inline void name_one(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto name = extract_name(raw);
  // A view into raw, without the characters that end a name.
  if (!name.empty() && (name.data() < raw.data()
                        || name.data() + name.size() > raw.data() + raw.size()))
    fuzz_fail("extract_name points outside its input");
  if (name.find_first_of("( \t\n\r") != std::string_view::npos)
    fuzz_fail("extracted name holds a separator");
  if (extract_name(name) != name)
    fuzz_fail("extract_name is not idempotent");
  static const name_filter strict("^[a-z_][a-z0-9_]{2,63}$", {"main", "solve"});
  static const name_filter loose("^[A-Za-z_][A-Za-z0-9_]*$", {"Main"});
  auto v = strict.check(name);
  (void)loose.check(name);
  if (v == name_verdict::kept
      && (name.size() < 3 || name.size() > 64 || name == "main" || name == "solve"))
    fuzz_fail("name_filter kept a name its regex or weaklist refuses");
  if (name.empty() && v != name_verdict::empty)
    fuzz_fail("empty name not reported as empty");
  uint64_t key = 0;
  if (!parse_uid(uid_hex(name_key(name)), key) || key != name_key(name))
    fuzz_fail("uid_hex / parse_uid round trip");
  for (std::string_view s : {raw, name}) {
    std::string lit;
    append_json_string(lit, s);
    if (lit.find('\n') != std::string::npos)
      fuzz_fail("append_json_string left a raw newline (JSONL record split)");
    if (!valid_utf8(s))
      continue;
    auto j = nlohmann::json::parse(lit, nullptr, false);
    if (j.is_discarded() || !j.is_string())
      fuzz_fail("append_json_string of valid UTF-8 is not a JSON string");
    else if (j.get<std::string>() != s)
      fuzz_fail("append_json_string round trip changed the string");
  }
}

} // namespace evo::fuzz
