// Parses the same canned responses with the own http1_response_parser and
// with Boost.Beast's http::response_parser<string_body>, whole and in 64-byte
// pieces, and prints nanoseconds per response for each (built and run by
// tools/bench/parser_compare.sh; not part of the CMake build).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "actors/request/http1_parser.hpp"

namespace http = boost::beast::http;

namespace {

std::string completion() {
  return R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen2.5-Coder-32B","choices":[{"index":0,"text":"merge_sorted_lists","logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})";
}

std::string with_length() {
  auto b = completion();
  return "HTTP/1.1 200 OK\r\ndate: Mon, 30 Nov 2026 02:00:00 GMT\r\nserver: uvicorn\r\n"
         "content-type: application/json\r\ncontent-length: "
         + std::to_string(b.size()) + "\r\n\r\n" + b;
}

std::string chunked() {
  auto b = completion();
  char size[16];
  std::snprintf(size, sizeof size, "%zx", b.size() - 40);
  return "HTTP/1.1 200 OK\r\ndate: Mon, 30 Nov 2026 02:00:00 GMT\r\nserver: uvicorn\r\n"
         "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n28\r\n"
         + b.substr(0, 40) + "\r\n" + size + "\r\n" + b.substr(40) + "\r\n0\r\n\r\n";
}

template <class F>
double ns_per(int n, F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    f();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

size_t own(const std::string& in, size_t piece, evo::http1_response_parser& p,
           std::string& body) {
  p.reset();
  body.clear();
  for (size_t at = 0; at < in.size() && !p.done() && !p.failed(); at += piece)
    p.feed(in.data() + at, std::min(piece, in.size() - at), body);
  if (!p.done())
    std::abort();
  return body.size();
}

size_t beast(const std::string& in, size_t piece) {
  http::response_parser<http::string_body> p;
  p.eager(true);
  boost::beast::error_code ec;
  size_t at = 0;
  std::string pending;
  while (!p.is_done()) {
    auto take = std::min(piece, in.size() - at);
    pending.append(in, at, take);
    at += take;
    auto used = p.put(boost::asio::buffer(pending), ec);
    if (ec == http::error::need_more) {
      ec = {};
    } else if (ec) {
      std::abort();
    }
    pending.erase(0, used);
    if (at == in.size() && !p.is_done() && used == 0)
      std::abort();
  }
  return p.get().body().size();
}

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  evo::http1_response_parser p;
  std::string body;
  volatile size_t sink = 0;
  std::printf("%-14s %-7s %12s %12s\n", "framing", "pieces", "own ns", "beast ns");
  for (auto& [name, text] : {std::pair{"content-length", with_length()},
                             std::pair{"chunked", chunked()}}) {
    for (size_t piece : {text.size(), size_t{64}}) {
      double a = ns_per(n, [&] { sink = sink + own(text, piece, p, body); });
      double b = ns_per(n, [&] { sink = sink + beast(text, piece); });
      std::printf("%-14s %-7s %12.0f %12.0f\n", name,
                  piece == text.size() ? "whole" : "64 B", a, b);
    }
  }
  return sink == 0 ? 1 : 0;
}
