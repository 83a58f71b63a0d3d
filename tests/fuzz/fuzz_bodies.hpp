// The bodies of the libFuzzer targets, shared with the regression test
// (tests/reliability/test_fuzz_regressions.cpp), which replays every file of
// tests/fuzz/regressions/<target>/ through the same function. A property that
// does not hold calls fuzz_fail() (abort: libFuzzer records the input).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/config/config_loader.hpp"
#include "actors/request/http1_parser.hpp"
#include "actors/request/openai_protocol.hpp"
#include "actors/writer/choice_sieve.hpp"
#include "actors/writer/json_write.hpp"
#include "actors/writer/name_filter.hpp"
#include "actors/writer/name_regex.hpp"

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

// --- fuzz_name: extract_name, name_filter::check, the free-text sieve,
// name_regex on arbitrary patterns, append_json_string ---
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
  if (!parse_uid(uid_hex(uid_key(name)), key) || key != uid_key(name))
    fuzz_fail("uid_hex / parse_uid round trip");
  // Free text: the stripped completion, within its bounds, keyed by itself.
  auto text = strip_text(raw);
  if (strip_text(text) != text)
    fuzz_fail("strip_text is not idempotent");
  auto sieve = choice_sieve::texts({4, 64});
  std::vector<kept_choice> kept;
  const std::vector<std::string> twice{std::string{raw}, std::string{raw}};
  auto st = sieve.sift(twice, kept); // kept views into `twice`
  if (st.kept + st.duplicates + st.filtered_empty + st.filtered_regex != 2
      || st.kept > 1)
    fuzz_fail("text sieve lost or doubled a choice");
  for (auto& k : kept)
    if (k.text != text || utf8_length(k.text) < 4 || utf8_length(k.text) > 64
        || k.key != uid_key(text))
      fuzz_fail("text sieve kept a text its bounds refuse");
  // The input as a filters.name_regex: checked, and matched when accepted.
  auto pattern = std::string{raw.substr(0, 200)};
  if (name_regex_problem(pattern).empty())
    (void)name_regex{pattern}.full_match(raw);
  for (std::string_view s : {raw, name}) {
    std::string lit;
    append_json_string(lit, s);
    if (lit.find('\n') != std::string::npos)
      fuzz_fail("append_json_string left a raw newline (JSONL record split)");
    if (!valid_utf8(lit))
      fuzz_fail("append_json_string wrote invalid UTF-8");
    auto j = nlohmann::json::parse(lit, nullptr, false);
    if (j.is_discarded() || !j.is_string())
      fuzz_fail("append_json_string did not write a JSON string");
    else if (valid_utf8(s) && j.get<std::string>() != s)
      fuzz_fail("append_json_string round trip changed the string");
  }
}

// --- fuzz_http1: http1_response_parser on arbitrary response bytes ---

/// What a parser ended with after feeding a whole input (see http1_run).
struct http1_result {
  http1_response_parser::state state = http1_response_parser::state::headers;
  int status = 0;
  std::string body;
  bool keep_alive = false;
  int32_t retry_after_ms = -1;
  std::string error;
  bool truncated = false;
  size_t consumed = 0;
};

/// Feeds `in` to `p` cut at the ascending offsets `cuts`, checking feed's
/// contract on every call, until a feed leaves bytes (done or error); then
/// on_eof when `eof`.
inline http1_result http1_run(http1_response_parser& p, std::string_view in,
                              const std::vector<size_t>& cuts, bool eof) {
  using st = http1_response_parser::state;
  http1_result r;
  size_t from = 0;
  auto feed_to = [&](size_t end) {
    if (end < from)
      return true;
    size_t len = end - from;
    size_t n = p.feed(in.data() + from, len, r.body);
    if (n > len)
      fuzz_fail("feed consumed more bytes than it was given");
    r.consumed += n;
    if (r.body.size() > http1_response_parser::default_max_body_bytes)
      fuzz_fail("body larger than max_body_bytes");
    if (p.bytes_seen() != r.consumed)
      fuzz_fail("bytes_seen differs from the bytes feed consumed");
    if (n < len && !p.done() && !p.failed())
      fuzz_fail("feed left bytes while the response is neither done nor failed");
    from = end;
    return n == len;
  };
  bool more = true;
  for (size_t c : cuts)
    if (more)
      more = feed_to(std::min(c, in.size()));
  if (more)
    feed_to(in.size());
  if (p.failed() && p.keep_alive())
    fuzz_fail("a failed response leaves the connection reusable");
  if (p.failed() && p.error().empty())
    fuzz_fail("failed with an empty error text");
  if (!p.failed() && !p.error().empty())
    fuzz_fail("an error text without the error state");
  if (p.done() && (p.status() < 200 || p.status() > 999))
    fuzz_fail("done with a status outside 200..999");
  if (eof) {
    p.on_eof();
    if (p.current() != st::done && p.current() != st::error)
      fuzz_fail("on_eof left the response unfinished");
    if (p.keep_alive())
      fuzz_fail("keep_alive after the peer closed");
  }
  if (p.truncated() && !p.failed())
    fuzz_fail("truncated without the error state");
  r.state = p.current();
  r.status = p.status();
  r.keep_alive = p.keep_alive();
  r.retry_after_ms = p.retry_after_ms();
  r.error = p.error();
  r.truncated = p.truncated();
  return r;
}

inline void http1_same(const http1_result& a, const http1_result& b,
                       const char* what) {
  // Retry-After may be an HTTP date, read against the clock: a run on either
  // side of a second boundary sees one second more or less.
  bool retry_close = (a.retry_after_ms < 0) == (b.retry_after_ms < 0)
                     && a.retry_after_ms - b.retry_after_ms <= 1000
                     && b.retry_after_ms - a.retry_after_ms <= 1000;
  if (a.state != b.state || a.status != b.status || a.body != b.body
      || a.keep_alive != b.keep_alive || a.error != b.error
      || a.truncated != b.truncated || !retry_close
      // An error may be seen after earlier pieces were taken whole.
      || (a.state != http1_response_parser::state::error
          && a.consumed != b.consumed))
    fuzz_fail(what);
}

/// The Content-Length of the final response when the input says it plainly
/// (one Content-Length header, no Transfer-Encoding, no folded lines, not a
/// 1xx/204/304) and where its header section ends; nullopt when unsure.
inline std::optional<std::pair<uint64_t, size_t>> http1_plain_length(
  std::string_view in) {
  auto lower = [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  };
  auto starts_ci = [&](std::string_view line, std::string_view word) {
    if (line.size() < word.size())
      return false;
    for (size_t i = 0; i < word.size(); ++i)
      if (lower(line[i]) != word[i])
        return false;
    return true;
  };
  size_t pos = 0;
  for (int interim = 0; interim < 8; ++interim) {
    // The header section: up to the first empty line (LF or CRLF ends).
    size_t line_start = pos, end = std::string_view::npos;
    std::vector<std::string_view> lines;
    while (true) {
      size_t nl = in.find('\n', line_start);
      if (nl == std::string_view::npos || nl - pos > http1_response_parser::max_header_bytes)
        return std::nullopt;
      auto line = in.substr(line_start, nl - line_start);
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      line_start = nl + 1;
      if (line.empty() && !lines.empty()) {
        end = line_start;
        break;
      }
      lines.push_back(line);
    }
    auto status_line = lines[0];
    if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 ")
      return std::nullopt;
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (status_line[i] < '0' || status_line[i] > '9')
        return std::nullopt;
      status = status * 10 + (status_line[i] - '0');
    }
    if (status_line.size() > 12 && status_line[12] != ' ')
      return std::nullopt;
    if (status >= 100 && status < 200 && status != 101) {
      pos = end; // an interim response: the final one follows
      continue;
    }
    if (status < 200 || status == 204 || status == 304)
      return std::nullopt;
    std::optional<uint64_t> length;
    for (size_t i = 1; i < lines.size(); ++i) {
      auto line = lines[i];
      if (line.empty() || line.front() == ' ' || line.front() == '\t'
          || starts_ci(line, "transfer-encoding"))
        return std::nullopt;
      if (!starts_ci(line, "content-length"))
        continue;
      if (length || line.size() < 15 || line[14] != ':')
        return std::nullopt;
      auto v = line.substr(15);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      if (v.empty() || v.size() > 18)
        return std::nullopt;
      uint64_t n = 0;
      for (char c : v) {
        if (c < '0' || c > '9')
          return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      length = n;
    }
    if (!length)
      return std::nullopt;
    return std::make_pair(*length, end);
  }
  return std::nullopt;
}

inline void http1_one(const uint8_t* data, size_t size) {
  using st = http1_response_parser::state;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // 1 to 8 cut points drawn from a hash of the first 16 bytes (a real
  // response starts with the same "HTTP/1.1 2", so the bytes themselves
  // would cut every seed alike).
  std::vector<size_t> cuts;
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (size_t i = 0; i < size && i < 16; ++i)
    h = (h ^ data[i]) * 1099511628211ull;
  size_t count = 1 + h % 8;
  for (size_t k = 0; k < count; ++k) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    cuts.push_back(static_cast<size_t>((h >> 33) % (size + 1)));
  }
  std::sort(cuts.begin(), cuts.end());
  http1_response_parser p;
  auto whole = http1_run(p, in, {}, false);
  p.reset(); // the same parser again: reset() must forget everything
  auto split = http1_run(p, in, cuts, false);
  http1_same(whole, split, "split input parsed differently from whole");

  http1_response_parser q;
  auto whole_eof = http1_run(q, in, {}, true);
  q.reset();
  auto split_eof = http1_run(q, in, cuts, true);
  http1_same(whole_eof, split_eof,
             "split input + EOF parsed differently from whole + EOF");
  if (size <= 4096) {
    std::vector<size_t> every;
    for (size_t i = 1; i < size; ++i)
      every.push_back(i);
    q.reset();
    http1_same(whole_eof, http1_run(q, in, every, true),
               "input byte by byte + EOF parsed differently from whole + EOF");
  }
  // EOF only changes an unfinished response.
  if (whole.state == st::done
      && (whole_eof.state != st::done || whole_eof.body != whole.body))
    fuzz_fail("on_eof changed a finished response");
  if (whole.state == st::error && whole_eof.error != whole.error)
    fuzz_fail("on_eof changed an error");
  // A response that says its length plainly has exactly that many bytes.
  if (whole.state == st::done) {
    if (auto plain = http1_plain_length(in)) {
      if (whole.body.size() != plain->first)
        fuzz_fail("done with a body size other than its Content-Length");
      if (whole.consumed != plain->second + plain->first)
        fuzz_fail("done having consumed other than headers + Content-Length");
    }
  }
}

} // namespace evo::fuzz
