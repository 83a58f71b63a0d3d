// The URL module (parse, /v1 normalisation, which client, redaction) and the
// safety of server text (secrets redacted, UTF-8 valid, controls escaped).
#include <doctest/doctest.h>

#include <string>

#include "actors/request/server_text.hpp"
#include "actors/request/url.hpp"

using namespace evo;

TEST_CASE("url: redaction hides userinfo holding '@', ':' and percent-escapes") {
  CHECK(url::redact("http://u:p@ss@host/v1") == "http://***@host/v1");
  CHECK(url::redact("http://u:p@ss@host/v1").find("ss@") == std::string::npos);
  CHECK(url::redact("http://us%40er:p%3Aw:x@h:8000/v1") == "http://***@h:8000/v1");
  CHECK(url::redact("https://user:pw@10.0.0.5:8000") == "https://***@10.0.0.5:8000");
  CHECK(url::redact("http://u:p/ss@host/v1") == "http://***@host/v1");
  CHECK(url::redact("http://host:8000/v1") == "http://host:8000/v1");
  CHECK(url::redact("http://host/v1?x=a@b") == "http://host/v1?x=a@b");
  CHECK(url::redact("embedded") == "embedded");
  CHECK(url::redact("ftp://user:hunter2@h/v1") == "ftp://***@h/v1");
}

TEST_CASE("url: parse splits the parts and refuses what is not http(s)") {
  auto p = url::parse("http://u:p@ss@[::1]:9/v1/completions?x#frag");
  REQUIRE(p);
  CHECK(p->userinfo == "u:p@ss");
  CHECK(p->host == "::1");
  CHECK(p->ipv6);
  CHECK(p->port == 9);
  CHECK(p->authority == "[::1]:9");
  CHECK(p->target == "/v1/completions?x");
  auto d = url::parse("HTTPS://api.example.com");
  REQUIRE(d);
  CHECK(d->https);
  CHECK(d->port == 443);
  CHECK(d->target == "/");
  std::string why;
  CHECK_FALSE(url::parse("ftp://h/", &why));
  CHECK_FALSE(url::parse("http://h:0/", &why));
  CHECK(why == "invalid port");
  CHECK_FALSE(url::parse("http:///v1", &why));
}

TEST_CASE("url: the userinfo of a URL, percent-decoded, for scrubbing") {
  auto c = url::userinfo_of("http://us%40er:p%3Aw@ss@h/v1");
  CHECK(c.user == "us@er");
  CHECK(c.password == "p:w@ss");
  auto none = url::userinfo_of("http://h/v1");
  CHECK(none.user.empty());
  CHECK(none.password.empty());
}

TEST_CASE("url: base normalisation appends /v1 once") {
  CHECK(url::normalise_base("http://h:8000") == "http://h:8000/v1");
  CHECK(url::normalise_base("http://h/v1/") == "http://h/v1");
  CHECK(url::normalise_base("http://v1") == "http://v1/v1");
  CHECK(url::normalise_base("embedded") == "embedded");
  CHECK_FALSE(url::normalise_base("http://h/v1?x=1"));
  CHECK_FALSE(url::normalise_base("localhost:8000"));
}

TEST_CASE("url: auto takes the own client to loopback only; native to any IP literal") {
  CHECK(url::is_loopback_host("127.0.0.1"));
  CHECK(url::is_loopback_host("127.255.0.9"));
  CHECK(url::is_loopback_host("::1"));
  CHECK(url::is_loopback_host("LocalHost"));
  CHECK_FALSE(url::is_loopback_host("128.0.0.1"));
  CHECK_FALSE(url::is_loopback_host("10.0.0.5"));
  CHECK_FALSE(url::is_loopback_host("::2"));
  CHECK_FALSE(url::is_loopback_host("localhost.example"));

  std::string why;
  CHECK(url::native_capable("http://127.0.0.1:8000/v1", true));
  CHECK(url::native_capable("http://[::1]:8000/v1", true));
  CHECK(url::native_capable("http://localhost:8000/v1", true));
  CHECK_FALSE(url::native_capable("http://10.0.0.5:8000/v1", true, &why));
  CHECK(why.find("not loopback") != std::string::npos);
  CHECK(url::native_capable("http://10.0.0.5:8000/v1", false));
  CHECK_FALSE(url::native_capable("http://gpu-node:8000/v1", false, &why));
  CHECK_FALSE(url::native_capable("https://127.0.0.1/v1", true, &why));
  CHECK_FALSE(url::native_capable("http://u:p@127.0.0.1/v1", false, &why));
  CHECK_FALSE(url::native_capable("http://u:p/x@127.0.0.1/v1", false, &why));
}

TEST_CASE("url: node addresses host:port") {
  std::string host;
  uint16_t port = 0;
  CHECK(url::split_host_port("[::1]:4242", host, port));
  CHECK(host == "::1");
  CHECK(port == 4242);
  CHECK_FALSE(url::split_host_port("h:0", host, port));
  CHECK_FALSE(url::split_host_port("h", host, port));
}

TEST_CASE("server text: every configured secret goes, also when it nests") {
  api_config api;
  api.api_key = "sk-SENTINEL-123";
  api.extra_headers = {{"X-Tenant", "tenant-SECRET"}, {"X-Debug", "1"}};
  api.base_url = "http://bob%40corp:pa%3Ass@w0rd@127.0.0.1:1/v1";
  auto secrets = secret_values(api);
  std::string text = "Authorization: Bearer sk-SENTINEL-123\r\nX-Tenant: "
                     "tenant-SECRET user bob@corp pw pa:ss@w0rd raw pa%3Ass@w0rd X-Debug: 1";
  auto out = redact_secrets(text, secrets);
  CHECK(out.find("SENTINEL") == std::string::npos);
  CHECK(out.find("SECRET") == std::string::npos);
  CHECK(out.find("bob@corp") == std::string::npos);
  CHECK(out.find("w0rd") == std::string::npos);
  CHECK(out.find("[redacted]") != std::string::npos);
  CHECK(out.find("X-Debug: 1") != std::string::npos); // too short to hide
}

TEST_CASE("server text: invalid UTF-8 is replaced and control characters escaped") {
  CHECK(escape_controls("ok \xc3\xa9") == "ok \xc3\xa9");
  CHECK(escape_controls("a\x1b[31mred\x07") == "a\\x1b[31mred\\x07");
  CHECK(escape_controls("\x1b]0;title\x07") == "\\x1b]0;title\\x07"); // OSC
  CHECK(escape_controls("l1\r\nl2\t") == "l1\\r\\nl2\\t");
  CHECK(escape_controls("\x7f") == "\\x7f");
  CHECK(escape_controls("\xc2\x9b" "2J") == "\\u009b2J"); // 8-bit CSI
  CHECK(escape_controls("\x1f\x8b\x08") == "\\x1f\xef\xbf\xbd\\x08"); // gzip magic
  CHECK(escape_controls("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(escape_controls("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");
  CHECK(escape_controls("cut \xe2\x82") == "cut \xef\xbf\xbd\xef\xbf\xbd");
}
