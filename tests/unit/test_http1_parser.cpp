// http1_response_parser: the three body framings (Content-Length, chunked,
// until close) fed in one piece, byte by byte and split at every position;
// 1xx interim responses, 204, keep-alive rules of HTTP/1.0 and 1.1,
// Retry-After, bytes after the response, the malformed and truncated
// responses it must refuse, and reuse after reset().
#include <doctest/doctest.h>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "actors/request/http1_parser.hpp"

using evo::http1_response_parser;
using evo::parse_retry_after;
using st = http1_response_parser::state;

namespace {

/// What the parser ended with after a whole input.
struct outcome {
  st state = st::headers;
  int status = 0;
  std::string body;
  bool keep_alive = false;
  int32_t retry_after_ms = -2;
  std::string error;
  bool truncated = false;
  size_t consumed = 0; ///< sum of what feed() returned
  size_t seen = 0;     ///< bytes_seen()
};

outcome snapshot(const http1_response_parser& p, std::string body,
                 size_t consumed) {
  outcome o;
  o.state = p.current();
  o.status = p.status();
  o.body = std::move(body);
  o.keep_alive = p.keep_alive();
  o.retry_after_ms = p.retry_after_ms();
  o.error = p.error();
  o.truncated = p.truncated();
  o.consumed = consumed;
  o.seen = p.bytes_seen();
  return o;
}

/// Feeds `in` cut at `cuts` (ascending offsets), stopping once a feed
/// consumes less than it was given (done or error); then on_eof if asked.
outcome run(std::string_view in, const std::vector<size_t>& cuts,
            bool eof = false) {
  http1_response_parser p;
  std::string body;
  size_t consumed = 0;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t end : ends) {
    if (end < from)
      continue;
    size_t len = end - from;
    size_t n = p.feed(in.data() + from, len, body);
    REQUIRE(n <= len);
    consumed += n;
    if (n < len) {
      // Only a finished or failed response leaves bytes unconsumed.
      CHECK((p.done() || p.failed()));
      break;
    }
    from = end;
  }
  if (eof)
    p.on_eof();
  return snapshot(p, std::move(body), consumed);
}

outcome whole(std::string_view in, bool eof = false) {
  return run(in, {}, eof);
}

outcome byte_by_byte(std::string_view in, bool eof = false) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < in.size(); ++i)
    cuts.push_back(i);
  return run(in, cuts, eof);
}

/// The same verdict (what the response was), however it was cut.
void check_same_result(const outcome& a, const outcome& b) {
  CHECK(a.state == b.state);
  CHECK(a.status == b.status);
  CHECK(a.body == b.body);
  CHECK(a.keep_alive == b.keep_alive);
  CHECK(a.retry_after_ms == b.retry_after_ms);
  CHECK(a.error == b.error);
  CHECK(a.truncated == b.truncated);
}

/// The same verdict and the same bytes consumed (for inputs that do not
/// fail: on an error, earlier pieces were consumed before it was seen).
void check_same(const outcome& a, const outcome& b) {
  check_same_result(a, b);
  CHECK(a.consumed == b.consumed);
  CHECK(a.seen == b.seen);
}

/// Every split of `in` into two pieces and (when `three`) into three gives
/// the same outcome as feeding it whole.
void check_every_split(std::string_view in, bool eof, bool three) {
  const outcome ref = whole(in, eof);
  for (size_t i = 0; i <= in.size(); ++i) {
    CAPTURE(i);
    check_same(run(in, {i}, eof), ref);
    if (!three)
      continue;
    for (size_t j = i; j <= in.size(); ++j) {
      CAPTURE(j);
      auto o = run(in, {i, j}, eof);
      // check_same on every pair would print thousands of lines on a
      // failure; compare in one expression, then detail the first mismatch.
      bool same = o.state == ref.state && o.status == ref.status
                  && o.body == ref.body && o.keep_alive == ref.keep_alive
                  && o.error == ref.error && o.consumed == ref.consumed;
      if (!same) {
        check_same(o, ref);
        return;
      }
    }
  }
}

const std::string kLength =
  "HTTP/1.1 200 OK\r\n"
  "Content-Type: application/json\r\n"
  "Content-Length: 17\r\n"
  "\r\n"
  "{\"choices\": [42]}";

const std::string kChunked =
  "HTTP/1.1 200 OK\r\n"
  "Transfer-Encoding: chunked\r\n"
  "\r\n"
  "5;name=value\r\n"
  "hello\r\n"
  "7 ; a=\"b;c\" ;d\r\n"
  ", world\r\n"
  "A\r\n"
  "0123456789\r\n"
  "0;last\r\n"
  "X-Trailer: one\r\n"
  "X-Other: two\r\n"
  "\r\n";

} // namespace

TEST_CASE("Content-Length body in one piece") {
  auto o = whole(kLength);
  CHECK(o.state == st::done);
  CHECK(o.status == 200);
  CHECK(o.body == "{\"choices\": [42]}");
  CHECK(o.keep_alive);
  CHECK(o.retry_after_ms == -1);
  CHECK(o.error.empty());
  CHECK_FALSE(o.truncated);
  CHECK(o.consumed == kLength.size());
  CHECK(o.seen == kLength.size());
}

TEST_CASE("Content-Length body byte by byte: same result, not done early") {
  http1_response_parser p;
  std::string body;
  for (size_t i = 0; i < kLength.size(); ++i) {
    CAPTURE(i);
    CHECK(p.current() == (i < kLength.size() - 17 ? st::headers : st::body));
    CHECK_FALSE(p.done());
    CHECK(p.feed(kLength.data() + i, 1, body) == 1);
  }
  CHECK(p.done());
  check_same(snapshot(p, body, kLength.size()), whole(kLength));
  check_same(byte_by_byte(kLength), whole(kLength));
}

TEST_CASE("Content-Length body split at every position (two and three pieces)") {
  check_every_split(kLength, false, true);
}

TEST_CASE("the body is appended to the caller's string") {
  http1_response_parser p;
  std::string body = "kept:";
  CHECK(p.feed(kLength.data(), kLength.size(), body) == kLength.size());
  CHECK(body == "kept:{\"choices\": [42]}");
}

TEST_CASE("Content-Length: 0 is done at the end of the headers") {
  std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  auto o = whole(in);
  CHECK(o.state == st::done);
  CHECK(o.body.empty());
  CHECK(o.keep_alive);
  CHECK(o.consumed == in.size());
}

TEST_CASE("header names are case-insensitive; bare LF line ends are read") {
  std::string in = "HTTP/1.1 201 Created\n"
                   "content-LENGTH:   3  \n"
                   "CONNECTION: CLOSE\n"
                   "\n"
                   "abc";
  auto o = whole(in);
  CHECK(o.state == st::done);
  CHECK(o.status == 201);
  CHECK(o.body == "abc");
  CHECK_FALSE(o.keep_alive);
  check_every_split(in, false, false);
}

TEST_CASE("chunked body with extensions and trailers") {
  auto o = whole(kChunked);
  CHECK(o.state == st::done);
  CHECK(o.status == 200);
  CHECK(o.body == "hello, world0123456789");
  CHECK(o.keep_alive);
  CHECK(o.error.empty());
  CHECK(o.consumed == kChunked.size());
  CHECK(o.seen == kChunked.size());
}

TEST_CASE("chunked body: not done before the blank line after the trailers") {
  http1_response_parser p;
  std::string body;
  auto n = kChunked.size() - 2; // all but the final CRLF
  CHECK(p.feed(kChunked.data(), n, body) == n);
  CHECK(p.current() == st::body);
  CHECK(body == "hello, world0123456789");
  CHECK(p.feed(kChunked.data() + n, 2, body) == 2);
  CHECK(p.done());
}

TEST_CASE("chunked body byte by byte and split at every position") {
  check_same(byte_by_byte(kChunked), whole(kChunked));
  check_every_split(kChunked, false, true);
}

TEST_CASE("chunked wins over Content-Length; the last coding decides") {
  std::string in = "HTTP/1.1 200 OK\r\n"
                   "Content-Length: 100\r\n"
                   "Transfer-Encoding: gzip, Chunked\r\n"
                   "\r\n"
                   "3\r\nabc\r\n0\r\n\r\n";
  auto o = whole(in);
  CHECK(o.state == st::done);
  CHECK(o.body == "abc");
  CHECK(o.consumed == in.size());
  // "chunked" not last: the body runs to the close.
  std::string close = "HTTP/1.1 200 OK\r\n"
                      "Transfer-Encoding: chunked, gzip\r\n"
                      "\r\n"
                      "3\r\nabc\r\n0\r\n\r\n";
  auto c = whole(close);
  CHECK(c.state == st::body);
  CHECK_FALSE(c.keep_alive);
  auto e = whole(close, true);
  CHECK(e.state == st::done);
  CHECK(e.body == "3\r\nabc\r\n0\r\n\r\n");
}

TEST_CASE("body until close: finished by on_eof, never kept alive") {
  std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                   "first part, second part";
  auto open = whole(in);
  CHECK(open.state == st::body); // more may come
  CHECK(open.body == "first part, second part");
  CHECK_FALSE(open.keep_alive);
  CHECK(open.consumed == in.size());
  auto o = whole(in, true);
  CHECK(o.state == st::done);
  CHECK(o.status == 200);
  CHECK(o.body == "first part, second part");
  CHECK_FALSE(o.keep_alive);
  CHECK(o.error.empty());
  CHECK_FALSE(o.truncated);
  check_same(byte_by_byte(in, true), o);
  check_every_split(in, true, false);
  // An empty body framed by the close.
  auto empty = whole("HTTP/1.1 200 OK\r\n\r\n", true);
  CHECK(empty.state == st::done);
  CHECK(empty.body.empty());
  // "Connection: keep-alive" cannot keep a close-framed body's connection.
  auto ka = whole("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nx", true);
  CHECK(ka.state == st::done);
  CHECK_FALSE(ka.keep_alive);
}

TEST_CASE("204 and 304 have no body, whatever the headers say") {
  std::string in = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
  auto o = whole(in);
  CHECK(o.state == st::done);
  CHECK(o.status == 204);
  CHECK(o.body.empty());
  CHECK(o.keep_alive);
  CHECK(o.consumed == in.size());
  // What follows is not its body: feed stops at the end of the headers.
  http1_response_parser p;
  std::string body;
  std::string two = in + "0123456789";
  CHECK(p.feed(two.data(), two.size(), body) == in.size());
  CHECK(p.done());
  CHECK(body.empty());
  auto nm = whole("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(nm.state == st::done);
  CHECK(nm.status == 304);
  CHECK(nm.body.empty());
}

TEST_CASE("100 Continue (and other 1xx) are skipped; the final response counts") {
  std::string in = "HTTP/1.1 100 Continue\r\n\r\n"
                   "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  auto o = whole(in);
  CHECK(o.state == st::done);
  CHECK(o.status == 200);
  CHECK(o.body == "ok");
  CHECK_FALSE(o.keep_alive);
  CHECK(o.consumed == in.size());
  CHECK(o.seen == in.size());
  // After the interim response alone: still waiting for headers, no status.
  http1_response_parser p;
  std::string body;
  std::string first = "HTTP/1.1 100 Continue\r\n\r\n";
  CHECK(p.feed(first.data(), first.size(), body) == first.size());
  CHECK(p.current() == st::headers);
  CHECK(p.status() == 0);
  CHECK_FALSE(p.done());
  check_same(byte_by_byte(in), o);
  check_every_split(in, false, false);
}

TEST_CASE("101 Switching Protocols is refused") {
  auto o = whole("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n");
  CHECK(o.state == st::error);
  CHECK(o.error.find("101") != std::string::npos);
  CHECK_FALSE(o.keep_alive);
}

TEST_CASE("HTTP/1.0 closes by default; Connection: keep-alive keeps it") {
  auto o = whole("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  CHECK(o.state == st::done);
  CHECK(o.body == "ok");
  CHECK_FALSE(o.keep_alive);
  auto ka = whole("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
                  "Content-Length: 2\r\n\r\nok");
  CHECK(ka.state == st::done);
  CHECK(ka.body == "ok");
  CHECK(ka.keep_alive);
  // Keep-alive asked, but no length: the close frames the body.
  auto nolen = whole("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nok", true);
  CHECK(nolen.state == st::done);
  CHECK(nolen.body == "ok");
  CHECK_FALSE(nolen.keep_alive);
}

TEST_CASE("HTTP/1.1 keeps alive by default; Connection: close closes") {
  CHECK(whole("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  auto c = whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  CHECK(c.state == st::done);
  CHECK(c.body == "ok");
  CHECK_FALSE(c.keep_alive);
  // A token in a list counts; a longer token containing the word does not.
  CHECK_FALSE(whole("HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\n"
                    "Content-Length: 0\r\n\r\n").keep_alive);
  CHECK(whole("HTTP/1.1 200 OK\r\nConnection: closed-caption\r\n"
              "Content-Length: 0\r\n\r\n").keep_alive);
}

TEST_CASE("Retry-After seconds on a 429") {
  std::string in = "HTTP/1.1 429 Too Many Requests\r\n"
                   "Retry-After: 7\r\n"
                   "Content-Length: 11\r\n\r\n"
                   "slow down!\n";
  auto o = whole(in);
  CHECK(o.state == st::done);
  CHECK(o.status == 429);
  CHECK(o.retry_after_ms == 7000);
  CHECK(o.body == "slow down!\n");
  CHECK(o.keep_alive);
  check_every_split(in, false, false);
  // Absent: -1. On a 503 with an unreadable value: -1 too.
  CHECK(whole("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n")
          .retry_after_ms
        == -1);
  CHECK(whole("HTTP/1.1 503 Busy\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n")
          .retry_after_ms
        == -1);
  // A 1xx's Retry-After is not the final response's.
  CHECK(whole("HTTP/1.1 100 Continue\r\nRetry-After: 9\r\n\r\n"
              "HTTP/1.1 429 Slow\r\nContent-Length: 0\r\n\r\n")
          .retry_after_ms
        == -1);
}

TEST_CASE("parse_retry_after: seconds, capped; HTTP dates; garbage") {
  CHECK(parse_retry_after("0") == 0);
  CHECK(parse_retry_after("120") == 120000);
  CHECK(parse_retry_after("  3 \r\n") == 3000);
  CHECK(parse_retry_after("1.5") == 1500);
  CHECK(parse_retry_after("999999") == 86400000); // capped at one day
  CHECK(parse_retry_after("") == -1);
  CHECK(parse_retry_after("   ") == -1);
  CHECK(parse_retry_after("soon") == -1);
  CHECK(parse_retry_after("12abc") == -1);
  // An HTTP date in the past: no wait.
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0);
  // An HTTP date about two minutes ahead.
  std::time_t later = std::time(nullptr) + 120;
  std::tm tm{};
  gmtime_r(&later, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  CAPTURE(buf);
  auto ms = parse_retry_after(buf);
  CHECK(ms >= 117000);
  CHECK(ms <= 120000);
}

TEST_CASE("bytes after a complete response are not consumed") {
  std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz";
  for (const std::string* first : {&kLength, &kChunked}) {
    CAPTURE(*first);
    std::string in = *first + next;
    http1_response_parser p;
    std::string body;
    auto n = p.feed(in.data(), in.size(), body);
    CHECK(n == first->size());
    CHECK(n < in.size());
    CHECK(p.done());
    CHECK(p.bytes_seen() == first->size());
    // Done: nothing more is taken, the body does not grow.
    auto size = body.size();
    CHECK(p.feed(in.data() + n, in.size() - n, body) == 0);
    CHECK(body.size() == size);
    CHECK(p.done());
  }
}

TEST_CASE("malformed status lines are errors") {
  for (std::string line :
       {"HTTX/1.1 200 OK", "HTTP/2 200 OK", "HTTP/1.1 2x0 OK", "HTTP/1.1 200OK",
        "HTTP/1.1  200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 099 Low", "hello world",
        "HTTP/1.x 200 OK", ""}) {
    CAPTURE(line);
    std::string in = line + "\r\nContent-Length: 2\r\n\r\nok";
    auto o = whole(in);
    CHECK(o.state == st::error);
    CHECK_FALSE(o.error.empty());
    CHECK_FALSE(o.keep_alive);
    CHECK(o.status == 0);
    CHECK(o.body.empty());
    CHECK(o.consumed < in.size());
    CHECK_FALSE(o.truncated);
    check_same_result(byte_by_byte(in), o);
  }
  CHECK(whole("garbage\r\n\r\n").error == "not an HTTP/1.x status line");
  CHECK(whole("HTTP/1.1 2x0 OK\r\n\r\n").error == "malformed HTTP status code");
}

TEST_CASE("malformed header lines are errors") {
  for (std::string h : {"no colon here", ": empty name", "Bad Name: x",
                        "Content-Length : 2"}) {
    CAPTURE(h);
    auto o = whole("HTTP/1.1 200 OK\r\n" + h + "\r\n\r\n");
    CHECK(o.state == st::error);
    CHECK_FALSE(o.error.empty());
  }
}

TEST_CASE("bad Content-Length values are errors") {
  for (std::string v : {"abc", "-1", "+5", "", "1 2", "0x10", "5.0",
                        "99999999999999999999"}) {
    CAPTURE(v);
    std::string in = "HTTP/1.1 200 OK\r\nContent-Length: " + v + "\r\n\r\nhello";
    auto o = whole(in);
    CHECK(o.state == st::error);
    CHECK(o.error == "invalid Content-Length");
    CHECK_FALSE(o.keep_alive);
    CHECK(o.body.empty());
    CHECK(o.consumed < in.size());
  }
  // Larger than the body limit.
  auto big = whole("HTTP/1.1 200 OK\r\nContent-Length: 268435457\r\n\r\n");
  CHECK(big.state == st::error);
  CHECK(big.error.find("256 MiB") != std::string::npos);
  auto limit = whole("HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n");
  CHECK(limit.state == st::body);
}

TEST_CASE("conflicting Content-Lengths are an error, repeated equal ones are not") {
  auto o = whole("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                 "Content-Length: 6\r\n\r\nhello!");
  CHECK(o.state == st::error);
  CHECK(o.error == "conflicting Content-Length headers");
  CHECK(o.body.empty());
  CHECK_FALSE(o.keep_alive);
  auto same = whole("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    "content-length: 5\r\n\r\nhello");
  CHECK(same.state == st::done);
  CHECK(same.body == "hello");
}

TEST_CASE("bad chunk sizes and chunk framing are errors") {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::string chunks :
       {"zz\r\nhello\r\n0\r\n\r\n", "5x\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n", "1000000000000000\r\n",
        "5\r\nhelloXX\r\n0\r\n\r\n", "5\r\nhello0\r\n\r\n"}) {
    CAPTURE(chunks);
    std::string in = head + chunks;
    auto o = whole(in);
    CHECK(o.state == st::error);
    CHECK_FALSE(o.error.empty());
    CHECK_FALSE(o.keep_alive);
    CHECK_FALSE(o.truncated);
    CHECK(o.consumed < in.size());
    check_same_result(byte_by_byte(in), o);
  }
  CHECK(whole(head + "zz\r\n").error
        == "invalid chunk size line in chunked encoding");
  CHECK(whole(head + "5\r\nhelloXX\r\n").error == "chunk data not followed by CRLF");
  CHECK(whole(head + "1000000000000000\r\n").error == "chunk size too large");
  // A chunk size line that never ends.
  auto endless = whole(head + "5;" + std::string(2000, 'x'));
  CHECK(endless.state == st::error);
  CHECK(endless.error == "chunk size line too long");
}

namespace {

/// A response whose header section (status line to blank line included) is
/// exactly `size` bytes, padded by one long header.
std::string head_of_size(size_t size) {
  std::string start = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: ";
  std::string end = "\r\n\r\n";
  REQUIRE(size >= start.size() + end.size());
  return start + std::string(size - start.size() - end.size(), 'a') + end;
}

} // namespace

TEST_CASE("a header section larger than 64 KiB is an error") {
  std::string in = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; in.size() <= 70000; ++i)
    in += "X-Pad-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
  // Never ends: refused once past the limit, in one piece and in pieces.
  auto o = whole(in);
  CHECK(o.state == st::error);
  CHECK(o.error == "response header section larger than 64 KiB");
  CHECK(o.consumed < in.size());
  CHECK_FALSE(o.keep_alive);
  std::vector<size_t> cuts;
  for (size_t i = 4096; i < in.size(); i += 4096)
    cuts.push_back(i);
  auto pieces = run(in, cuts);
  CHECK(pieces.state == st::error);
  CHECK(pieces.error == o.error);
  // Even when it would end later.
  auto ended = whole(in + "\r\nok");
  CHECK(ended.state == st::error);
  CHECK(ended.error == o.error);
  // Just under the limit is fine.
  auto ok = whole(head_of_size(60000) + "ok");
  CHECK(ok.state == st::done);
  CHECK(ok.body == "ok");
  auto at = whole(head_of_size(http1_response_parser::max_header_bytes) + "ok");
  CHECK(at.state == st::done);
  CHECK(at.body == "ok");
}

TEST_CASE("on_eof before any byte: Empty reply from server") {
  http1_response_parser p;
  p.on_eof();
  CHECK(p.failed());
  CHECK(p.error() == "Empty reply from server");
  CHECK_FALSE(p.truncated());
  CHECK_FALSE(p.keep_alive());
  CHECK(p.status() == 0);
}

TEST_CASE("on_eof inside the headers is an error, not a truncated body") {
  auto o = whole("HTTP/1.1 200 OK\r\nContent-Le", true);
  CHECK(o.state == st::error);
  CHECK(o.error == "connection closed inside the response headers");
  CHECK_FALSE(o.truncated);
  CHECK_FALSE(o.keep_alive);
  // After a complete 100 Continue, too.
  auto c = whole("HTTP/1.1 100 Continue\r\n\r\n", true);
  CHECK(c.state == st::error);
  CHECK(c.error == "connection closed inside the response headers");
}

TEST_CASE("on_eof inside a Content-Length body: truncated") {
  std::string in = kLength.substr(0, kLength.size() - 3);
  auto o = whole(in, true);
  CHECK(o.state == st::error);
  CHECK(o.truncated);
  CHECK(o.status == 200);
  CHECK(o.error == "transfer closed with 3 bytes remaining to read");
  CHECK_FALSE(o.keep_alive);
  CHECK(o.body == "{\"choices\": [4");
  check_same(byte_by_byte(in, true), o);
}

TEST_CASE("on_eof inside a chunked body: truncated") {
  // Cut inside a chunk's data, on a size line, and before the trailers end.
  for (size_t cut : {kChunked.size() - 40, kChunked.size() - 30, kChunked.size() - 1}) {
    CAPTURE(cut);
    auto o = whole(kChunked.substr(0, cut), true);
    CHECK(o.state == st::error);
    CHECK(o.truncated);
    CHECK(o.error == "transfer closed before the last chunk");
    CHECK_FALSE(o.keep_alive);
  }
}

TEST_CASE("on_eof after a complete response keeps it done, but not reusable") {
  auto o = whole(kLength, true);
  CHECK(o.state == st::done);
  CHECK(o.body == "{\"choices\": [42]}");
  CHECK(o.error.empty());
  CHECK_FALSE(o.truncated);
  CHECK_FALSE(o.keep_alive);
}

TEST_CASE("reset() makes the parser reusable for the next response") {
  http1_response_parser p;
  std::string body;
  std::string first = "HTTP/1.1 429 Slow\r\nRetry-After: 2\r\nConnection: close\r\n"
                      "Content-Length: 4\r\n\r\nwait";
  CHECK(p.feed(first.data(), first.size(), body) == first.size());
  REQUIRE(p.done());
  CHECK(p.retry_after_ms() == 2000);
  CHECK_FALSE(p.keep_alive());
  p.reset();
  CHECK(p.current() == st::headers);
  CHECK(p.status() == 0);
  CHECK(p.retry_after_ms() == -1);
  CHECK(p.keep_alive());
  CHECK(p.bytes_seen() == 0);
  CHECK(p.error().empty());
  CHECK_FALSE(p.truncated());
  body.clear();
  CHECK(p.feed(kChunked.data(), kChunked.size(), body) == kChunked.size());
  CHECK(p.done());
  CHECK(p.status() == 200);
  CHECK(body == "hello, world0123456789");
  CHECK(p.keep_alive());
  CHECK(p.retry_after_ms() == -1);
  CHECK(p.bytes_seen() == kChunked.size());

  // After an error mid-chunk, and with half a header section left over.
  p.reset();
  body.clear();
  std::string bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
  p.feed(bad.data(), bad.size(), body);
  p.on_eof();
  CHECK(p.failed());
  CHECK(p.truncated());
  p.reset();
  body.clear();
  std::string half = "HTTP/1.1 500 Oops\r\nX-Half: yes";
  CHECK(p.feed(half.data(), half.size(), body) == half.size());
  p.reset();
  CHECK(p.feed(kLength.data(), kLength.size(), body) == kLength.size());
  CHECK(p.done());
  CHECK(p.status() == 200);
  CHECK(body == "{\"choices\": [42]}");
  CHECK_FALSE(p.truncated());
  CHECK(p.error().empty());
  // And a third time, byte by byte.
  p.reset();
  body.clear();
  for (char c : kLength)
    CHECK(p.feed(&c, 1, body) == 1);
  CHECK(p.done());
  CHECK(body == "{\"choices\": [42]}");
}

TEST_CASE("an error is final: later bytes are not consumed") {
  http1_response_parser p;
  std::string body;
  std::string bad = "nope\r\n\r\n";
  CHECK(p.feed(bad.data(), bad.size(), body) < bad.size());
  REQUIRE(p.failed());
  CHECK(p.feed(kLength.data(), kLength.size(), body) == 0);
  CHECK(p.failed());
  CHECK(body.empty());
  p.on_eof();
  CHECK(p.failed());
  CHECK(p.error() == "not an HTTP/1.x status line");
}

// Regressions: two bugs found while writing these tests (fixed in
// http1_parser.cpp since).

// Off by one: feed_headers() took up to max_header_bytes + 1 bytes and
// accepted a section whose blank line ended in that extra byte, so a header
// section of exactly 65537 bytes parsed as a normal response.
TEST_CASE("regression: a header section of 64 KiB + 1 byte is refused") {
  const size_t max = http1_response_parser::max_header_bytes;
  auto over = whole(head_of_size(max + 1) + "ok");
  CHECK(over.state == st::error);
  CHECK(over.error == "response header section larger than 64 KiB");
  check_same_result(byte_by_byte(head_of_size(max + 1) + "ok"), over);
  auto at = whole(head_of_size(max) + "ok");
  CHECK(at.state == st::done);
}

// is_tchar() used std::strchr(set, c), which matches the terminating NUL, so
// a NUL byte passed as a token character and a header name holding one was
// accepted.
TEST_CASE("regression: a NUL byte in a header name is refused") {
  std::string in = std::string("HTTP/1.1 200 OK\r\nX-A") + '\0'
                   + "B: 1\r\nContent-Length: 2\r\n\r\nok";
  auto o = whole(in);
  CHECK(o.state == st::error);
  CHECK(o.error == "malformed response header name");
}

TEST_CASE("chunked trailers are capped at 64 KiB in all, not per line") {
  std::string in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\nok\r\n0\r\n";
  std::string line = "X-T: " + std::string(1000, 'a') + "\r\n";
  for (int i = 0; i < 70; ++i) // 70 lines of ~1 KiB: each small, all too big
    in += line;
  in += "\r\n";
  auto o = whole(in);
  CHECK(o.state == st::error);
  CHECK(o.error == "chunked trailers larger than 64 KiB");
  // The same with 10 lines is fine.
  std::string ok = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\nok\r\n0\r\n";
  for (int i = 0; i < 10; ++i)
    ok += line;
  ok += "\r\n";
  auto fine = whole(ok);
  CHECK(fine.state == st::done);
  CHECK(fine.body == "ok");
}
