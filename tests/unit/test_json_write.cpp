// append_json_string: every literal is valid UTF-8 JSON whatever the bytes,
// and no control character reaches a terminal raw.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "actors/writer/json_write.hpp"

using namespace evo;

namespace {

std::string lit(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// The decoded string; fails the test when `l` is not a JSON string.
std::string decode(const std::string& l) {
  auto j = nlohmann::json::parse(l, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j.is_string());
  return j.get<std::string>();
}

} // namespace

TEST_CASE("invalid UTF-8 bytes become U+FFFD, one per byte, and the rest stays") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(decode(lit("a\xff" "b")) == "a" + fffd + "b");
  CHECK(decode(lit("\x80")) == fffd);                       // lone continuation
  CHECK(decode(lit("\xC3")) == fffd);                       // cut at the end
  CHECK(decode(lit("\xC3" "x")) == fffd + "x");             // cut mid-text
  CHECK(decode(lit("\xC0\xAF")) == fffd + fffd);            // overlong '/'
  CHECK(decode(lit("\xE0\x80\xAF")) == fffd + fffd + fffd); // overlong
  CHECK(decode(lit("\xED\xA0\x80")) == fffd + fffd + fffd); // surrogate
  CHECK(decode(lit("\xF4\x90\x80\x80")) == fffd + fffd + fffd + fffd); // > U+10FFFF
  // A gzip header, as a server sending a compressed body would.
  std::string gz = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48";
  auto out = lit(gz);
  auto back = decode(out);
  CHECK(back.find(fffd) != std::string::npos);
  CHECK(out.find('\x1f') == std::string::npos);
}

TEST_CASE("well-formed UTF-8 passes through byte for byte") {
  std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF";
  auto out = lit(s);
  CHECK(out == "\"" + s + "\"");
  CHECK(decode(out) == s);
}

TEST_CASE("C0 controls, DEL and C1 controls are escaped, never raw") {
  std::string s = "\x1b[31mred\x07\x7f";
  s += "\xC2\x9B" "2J";  // U+009B, the one-byte CSI
  s += "\xC2\x85";       // U+0085 NEL
  s += "\xC2\xA0";       // U+00A0: not a control, kept raw
  auto out = lit(s);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\x07') == std::string::npos);
  CHECK(out.find('\x7f') == std::string::npos);
  CHECK(out.find("\xC2\x9B") == std::string::npos);
  CHECK(out.find("\xC2\x85") == std::string::npos);
  CHECK(out.find("\\u001b") != std::string::npos);
  CHECK(out.find("\\u007f") != std::string::npos);
  CHECK(out.find("\\u009b") != std::string::npos);
  CHECK(out.find("\xC2\xA0") != std::string::npos);
  CHECK(decode(out) == s); // escapes decode back to the same text
}
