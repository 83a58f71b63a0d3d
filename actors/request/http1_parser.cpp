// The HTTP/1.x response parser of the own client (see http1_parser.hpp).
#include "actors/request/http1_parser.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>

namespace evo {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Whether the comma-separated header value lists `token`; `last` asks for
// the final element only (Transfer-Encoding: the last coding frames the body).
bool lists_token(std::string_view value, std::string_view token, bool last) {
  bool found = false;
  while (true) {
    auto comma = value.find(',');
    auto item = trim(value.substr(0, comma));
    found = last ? iequals(item, token) : (found || iequals(item, token));
    if (comma == std::string_view::npos)
      return found;
    value.remove_prefix(comma + 1);
  }
}

bool is_tchar(char c) {
  // strchr would also match the terminating NUL.
  return std::isalnum(static_cast<unsigned char>(c)) != 0
         || (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

} // namespace

int32_t parse_retry_after(std::string value) {
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n'
                            || value.back() == ' '))
    value.pop_back();
  size_t start = value.find_first_not_of(' ');
  if (start == std::string::npos)
    return -1;
  value.erase(0, start);
  char* end = nullptr;
  double secs = std::strtod(value.c_str(), &end);
  if (end != value.c_str() && *end == '\0' && secs >= 0)
    return static_cast<int32_t>(std::min(secs, 86400.0) * 1000.0);
  auto when = curl_getdate(value.c_str(), nullptr);
  if (when < 0)
    return -1;
  auto delta = static_cast<double>(when - std::time(nullptr));
  return delta > 0 ? static_cast<int32_t>(std::min(delta, 86400.0) * 1000.0)
                   : 0;
}

void http1_response_parser::reset() {
  state_ = state::headers;
  framing_ = framing::none;
  chunk_ = chunk_step::size_line;
  status_ = 0;
  retry_after_ms_ = -1;
  keep_alive_ = true;
  truncated_ = false;
  too_large_ = false;
  remaining_ = 0;
  seen_ = 0;
  body_bytes_ = 0;
  trailer_bytes_ = 0;
  head_.clear();
  error_.clear();
}

void http1_response_parser::fail(const char* what) {
  state_ = state::error;
  keep_alive_ = false;
  error_ = what;
}

void http1_response_parser::fail_too_large() {
  fail("");
  too_large_ = true;
  constexpr uint64_t mib = 1024 * 1024;
  error_ = "response body larger than "
           + (max_body_ % mib == 0 ? std::to_string(max_body_ / mib) + " MiB"
                                   : std::to_string(max_body_) + " bytes")
           + " (api.max_response_bytes)";
}

size_t http1_response_parser::feed(const char* data, size_t len,
                                   std::string& body) {
  size_t used = 0;
  while (used < len && (state_ == state::headers || state_ == state::body)) {
    size_t n = state_ == state::headers
                 ? feed_headers(data + used, len - used)
                 : feed_body(data + used, len - used, body);
    used += n;
    seen_ += n;
    if (n == 0 && state_ != state::done) // only an error consumes nothing
      break;
  }
  return used;
}

size_t http1_response_parser::feed_headers(const char* data, size_t len) {
  // Find the blank line ending the section, looking back across the
  // previous piece so a split "\r\n\r\n" is found too.
  auto old = head_.size();
  auto room = max_header_bytes - std::min(old, max_header_bytes);
  auto take = std::min(len, room + 1);
  head_.append(data, take);
  auto from = old >= 3 ? old - 3 : 0;
  size_t end = std::string::npos;
  for (size_t i = from; i < head_.size(); ++i) {
    if (head_[i] != '\n')
      continue;
    if (i >= 1 && head_[i - 1] == '\n') {
      end = i + 1;
      break;
    }
    if (i >= 2 && head_[i - 1] == '\r' && head_[i - 2] == '\n') {
      end = i + 1;
      break;
    }
  }
  if (end == std::string::npos) {
    if (head_.size() > max_header_bytes) {
      fail("response header section larger than 64 KiB");
      return 0;
    }
    return take;
  }
  if (end > max_header_bytes) {
    fail("response header section larger than 64 KiB");
    return 0;
  }
  auto consumed = end - old;
  head_.resize(end);
  if (!parse_head())
    return 0;
  head_.clear();
  return consumed;
}

bool http1_response_parser::parse_head() {
  std::string_view all{head_};
  auto line_end = all.find('\n');
  auto status_line = trim(all.substr(0, line_end));
  // "HTTP/1.1 200 OK": version, three digits, then a space or the end.
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1."
      || !std::isdigit(static_cast<unsigned char>(status_line[7]))
      || status_line[8] != ' ') {
    fail("not an HTTP/1.x status line");
    return false;
  }
  for (int i = 9; i < 12; ++i)
    if (!std::isdigit(static_cast<unsigned char>(status_line[i]))) {
      fail("malformed HTTP status code");
      return false;
    }
  if (status_line.size() > 12 && status_line[12] != ' ') {
    fail("malformed HTTP status code");
    return false;
  }
  int status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10
               + (status_line[11] - '0');
  if (status < 100) {
    fail("malformed HTTP status code");
    return false;
  }
  bool http10 = status_line[7] == '0';
  bool keep_alive = !http10;
  bool chunked = false, has_te = false;
  bool has_length = false;
  uint64_t length = 0;
  int32_t retry_after = -1;

  auto rest = all.substr(line_end + 1);
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto raw = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!raw.empty() && raw.back() == '\r')
      raw.remove_suffix(1);
    if (raw.empty())
      break; // the blank line
    if (raw.front() == ' ' || raw.front() == '\t')
      continue; // obsolete line folding: continues a header we do not read
    auto colon = raw.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      fail("malformed response header line");
      return false;
    }
    auto name = raw.substr(0, colon);
    for (char c : name)
      if (!is_tchar(c)) {
        fail("malformed response header name");
        return false;
      }
    auto value = trim(raw.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 18) {
        fail("invalid Content-Length");
        return false;
      }
      uint64_t v = 0;
      for (char c : value) {
        if (!std::isdigit(static_cast<unsigned char>(c))) {
          fail("invalid Content-Length");
          return false;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (has_length && v != length) {
        fail("conflicting Content-Length headers");
        return false;
      }
      has_length = true;
      length = v;
    } else if (iequals(name, "transfer-encoding")) {
      has_te = true;
      chunked = lists_token(value, "chunked", true);
    } else if (iequals(name, "connection")) {
      if (lists_token(value, "close", false))
        keep_alive = false;
      else if (lists_token(value, "keep-alive", false))
        keep_alive = true;
    } else if (iequals(name, "retry-after")) {
      retry_after = parse_retry_after(std::string{value});
    }
  }

  if (status == 101) {
    fail("unexpected 101 Switching Protocols");
    return false;
  }
  if (status < 200) { // 100 Continue and friends: the real answer follows
    return true;
  }
  status_ = status;
  retry_after_ms_ = retry_after;
  keep_alive_ = keep_alive;
  if (status == 204 || status == 304) {
    framing_ = framing::none;
  } else if (has_te) {
    framing_ = chunked ? framing::chunked : framing::until_close;
  } else if (has_length) {
    framing_ = framing::length;
    remaining_ = length;
    if (length > max_body_) {
      fail_too_large();
      return false;
    }
  } else {
    framing_ = framing::until_close;
  }
  if (framing_ == framing::until_close)
    keep_alive_ = false; // the close is the body's end
  state_ = framing_ == framing::none
               || (framing_ == framing::length && remaining_ == 0)
             ? state::done
             : state::body;
  chunk_ = chunk_step::size_line;
  return true;
}

bool http1_response_parser::append_body(const char* data, size_t n,
                                        std::string& body) {
  if (n > max_body_ - std::min<uint64_t>(body_bytes_, max_body_)) {
    fail_too_large();
    return false;
  }
  body.append(data, n);
  body_bytes_ += n;
  return true;
}

size_t http1_response_parser::feed_body(const char* data, size_t len,
                                        std::string& body) {
  switch (framing_) {
    case framing::length: {
      auto n = static_cast<size_t>(std::min<uint64_t>(len, remaining_));
      if (!append_body(data, n, body))
        return 0;
      remaining_ -= n;
      if (remaining_ == 0)
        state_ = state::done;
      return n;
    }
    case framing::until_close:
      return append_body(data, len, body) ? len : 0;
    case framing::chunked:
      return feed_chunked(data, len, body);
    case framing::none:
      break;
  }
  state_ = state::done;
  return 0;
}

size_t http1_response_parser::feed_chunked(const char* data, size_t len,
                                           std::string& body) {
  if (chunk_ == chunk_step::data) {
    auto n = static_cast<size_t>(std::min<uint64_t>(len, remaining_));
    if (!append_body(data, n, body))
      return 0;
    remaining_ -= n;
    if (remaining_ == 0)
      chunk_ = chunk_step::data_crlf;
    return n;
  }
  // The other steps read one line into head_.
  auto nl = static_cast<const char*>(std::memchr(data, '\n', len));
  size_t take = nl != nullptr ? static_cast<size_t>(nl - data) + 1 : len;
  size_t limit = chunk_ == chunk_step::trailers ? max_header_bytes : 1024;
  if (head_.size() + take > limit) {
    fail(chunk_ == chunk_step::trailers ? "chunked trailers larger than 64 KiB"
                                        : "chunk size line too long");
    return 0;
  }
  head_.append(data, take);
  if (nl == nullptr)
    return take;
  std::string_view line{head_};
  line.remove_suffix(1); // '\n'
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  switch (chunk_) {
    case chunk_step::size_line: {
      uint64_t size = 0;
      size_t digits = 0;
      for (char c : line) {
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                            : -1;
        if (v < 0)
          break;
        if (++digits > 15) {
          fail("chunk size too large");
          return 0;
        }
        size = size * 16 + static_cast<uint64_t>(v);
      }
      auto after = trim(line.substr(digits));
      if (digits == 0 || (!after.empty() && after.front() != ';')) {
        fail("invalid chunk size line in chunked encoding");
        return 0;
      }
      remaining_ = size;
      chunk_ = size == 0 ? chunk_step::trailers : chunk_step::data;
      break;
    }
    case chunk_step::data_crlf:
      if (!line.empty()) {
        fail("chunk data not followed by CRLF");
        return 0;
      }
      chunk_ = chunk_step::size_line;
      break;
    case chunk_step::trailers:
      trailer_bytes_ += head_.size();
      if (trailer_bytes_ > max_header_bytes) {
        fail("chunked trailers larger than 64 KiB");
        return 0;
      }
      if (line.empty())
        state_ = state::done;
      head_.clear();
      return take; // trailer lines are read and dropped (head_ kept small)
    case chunk_step::data:
      break;
  }
  head_.clear();
  return take;
}

void http1_response_parser::on_eof() {
  switch (state_) {
    case state::headers:
      fail(seen_ == 0 ? "Empty reply from server"
                      : "connection closed inside the response headers");
      break;
    case state::body:
      if (framing_ == framing::until_close) {
        state_ = state::done;
        return;
      }
      if (framing_ == framing::length) {
        error_ = "transfer closed with " + std::to_string(remaining_)
                 + " bytes remaining to read";
        state_ = state::error;
      } else {
        fail("transfer closed before the last chunk");
      }
      truncated_ = true;
      keep_alive_ = false;
      break;
    case state::done:
    case state::error:
      break;
  }
  keep_alive_ = false;
}

} // namespace evo
