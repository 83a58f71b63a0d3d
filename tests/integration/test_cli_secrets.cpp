// The real binary against a server that echoes every request's headers (the
// API key, an extra header, the URL's password) and terminal escapes in a
// 400 body: no output file and no log line carries a secret, and every
// failures.jsonl line is valid JSON without raw control characters.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/integration/cli_harness.hpp"
#include "tests/unit/scripted_server.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

reply echo_headers(int, const std::string& request, bool) {
  auto head = request.substr(0, request.find("\r\n\r\n"));
  std::string body = "\x1b]0;pwned\x07\x1b[2J bad request, you sent: " + head;
  return reply{"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body};
}

} // namespace

TEST_CASE("a server echoing the request headers: no secret in any output "
          "file or log line") {
  for (const char* client : {"auto", "libcurl"}) {
    CAPTURE(client);
    scripted_server srv{scripted_server::full_script{echo_headers}};
    auto dir = make_temp_dir();
    auto port = srv.url().substr(0, srv.url().find("/v1"));
    test_config c;
    // The password rides in the URL (so libcurl carries it); without it
    // the own client takes loopback.
    c.base_url = std::string{client} == "libcurl"
                   ? "http://bob:pw-SENTINEL-3@" + port.substr(7) + "/v1"
                   : port + "/v1";
    c.num_batches = 3;
    c.n = 1;
    c.pool = 1; // the scripted server serves one connection at a time
    c.max_retries = 0;
    c.api_extra = std::string{"  http_client: "} + client + "\n"
                  + "  api_key: \"sk-SENTINEL-1\"\n"
                  + "  extra_headers:\n    X-Tok: \"tok-SENTINEL-2\"\n";
    auto cfg = write_config(dir, c);
    auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--mode", "l2r"});
    INFO(r.err);
    CHECK(r.exit_code == 3); // every request failed for good
    CHECK(r.out.find("SENTINEL") == std::string::npos);
    CHECK(r.err.find("SENTINEL") == std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
    int files = 0, failure_lines = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir + "/out")) {
      if (!e.is_regular_file())
        continue;
      ++files;
      auto text = read_file(e.path().string());
      CAPTURE(e.path().string());
      CHECK(text.find("SENTINEL") == std::string::npos);
      if (e.path().filename() == "failures.jsonl") {
        for (auto& line : read_lines(e.path().string())) {
          ++failure_lines;
          CHECK(line.find('\x1b') == std::string::npos);
          auto rec = json::parse(line);
          auto reason = rec["reason"].get<std::string>();
          CHECK(reason.find("[redacted]") != std::string::npos); // it did echo
          CHECK(reason.find('\x1b') == std::string::npos);
          CHECK(reason.find('\x07') == std::string::npos);
        }
      }
    }
    CHECK(files >= 2);
    CHECK(failure_lines == 3);
    CHECK(srv.requests() == 3);
  }
}
