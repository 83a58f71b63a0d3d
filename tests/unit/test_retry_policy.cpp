// retry_policy: what is retryable, how many times, and the backoff schedule.
#include <doctest/doctest.h>

#include <chrono>

#include "actors/coordinator/retry_policy.hpp"

using evo::failure_kind;
using evo::is_retryable;
using evo::retry_policy;
using namespace std::chrono_literals;

TEST_CASE("is_retryable: 408 409 429 and 5xx are retryable") {
  for (int s : {408, 409, 429, 500, 502, 503, 504, 599}) {
    CAPTURE(s);
    CHECK(is_retryable(failure_kind::http_status, s));
  }
}

TEST_CASE("is_retryable: other 4xx are not retryable") {
  for (int s : {400, 401, 403, 404, 405, 413, 422}) {
    CAPTURE(s);
    CHECK_FALSE(is_retryable(failure_kind::http_status, s));
  }
}

TEST_CASE("is_retryable: timeout connect transport bad_body retryable, none not") {
  CHECK(is_retryable(failure_kind::timeout, 0));
  CHECK(is_retryable(failure_kind::connect, 0));
  CHECK(is_retryable(failure_kind::transport, 0));
  CHECK(is_retryable(failure_kind::bad_body, 200));
  CHECK_FALSE(is_retryable(failure_kind::none, 200));
}

TEST_CASE("should_retry respects max_retries") {
  retry_policy p{3, 1000ms, 60000ms, 0.25, 42};
  CHECK(p.max_retries() == 3);
  CHECK(p.should_retry(0, failure_kind::http_status, 503));
  CHECK(p.should_retry(1, failure_kind::http_status, 503));
  CHECK(p.should_retry(2, failure_kind::timeout, 0));
  CHECK_FALSE(p.should_retry(3, failure_kind::http_status, 503));
  CHECK_FALSE(p.should_retry(4, failure_kind::http_status, 503));
  // Not retryable at any attempt.
  CHECK_FALSE(p.should_retry(0, failure_kind::http_status, 400));
  retry_policy none{0, 1000ms, 60000ms, 0.25, 42};
  CHECK_FALSE(none.should_retry(0, failure_kind::http_status, 503));
}

TEST_CASE("delay without jitter is exactly 1 s, 2 s, 4 s ... capped at max") {
  retry_policy p{10, 1000ms, 10000ms, 0.0, 1};
  CHECK(p.delay(1, -1) == 1000ms);
  CHECK(p.delay(2, -1) == 2000ms);
  CHECK(p.delay(3, -1) == 4000ms);
  CHECK(p.delay(4, -1) == 8000ms);
  CHECK(p.delay(5, -1) == 10000ms);
  CHECK(p.delay(40, -1) == 10000ms); // huge attempt numbers do not overflow
  CHECK(p.delay(0, -1) == 1000ms);   // attempt 0 treated like the first
}

TEST_CASE("delay with jitter stays within [b*2^(k-1), b*2^(k-1)*(1+jitter)]") {
  const double jitter = 0.25;
  retry_policy p{10, 1000ms, 60000ms, jitter, 12345};
  for (uint32_t k = 1; k <= 5; ++k) {
    const int64_t base = 1000LL << (k - 1);
    bool varied = false;
    int64_t first = -1;
    for (int i = 0; i < 200; ++i) {
      auto d = p.delay(k, -1).count();
      CAPTURE(k);
      CAPTURE(d);
      REQUIRE(d >= base);
      REQUIRE(d <= static_cast<int64_t>(base * (1 + jitter)));
      if (first < 0)
        first = d;
      else if (d != first)
        varied = true;
    }
    CHECK(varied); // the jitter is really random
  }
}

TEST_CASE("delay with jitter is capped at max before jitter") {
  const double jitter = 0.25;
  retry_policy p{10, 1000ms, 5000ms, jitter, 7};
  for (int i = 0; i < 100; ++i) {
    auto d = p.delay(8, -1).count(); // 128 s uncapped
    REQUIRE(d >= 5000);
    REQUIRE(d <= 6250);
  }
}

TEST_CASE("delay is never below Retry-After") {
  retry_policy p{10, 1000ms, 60000ms, 0.25, 99};
  CHECK(p.delay(1, 7000) >= 7000ms);
  CHECK(p.delay(3, 7000) >= 7000ms);
  CHECK(p.delay(1, 0) >= 1000ms); // Retry-After 0 does not shorten backoff
  // Retry-After above the cap still wins.
  retry_policy capped{10, 1000ms, 2000ms, 0.0, 1};
  CHECK(capped.delay(1, 30000) == 30000ms);
}

TEST_CASE("delay with the same seed is reproducible") {
  retry_policy a{10, 1000ms, 60000ms, 0.5, 2024};
  retry_policy b{10, 1000ms, 60000ms, 0.5, 2024};
  for (uint32_t k = 1; k < 8; ++k)
    CHECK(a.delay(k, -1) == b.delay(k, -1));
}

TEST_CASE("unhealing_error: a refused key, a missing model or endpoint, an "
          "untrusted certificate say what to fix") {
  using evo::unhealing_error;
  auto key = unhealing_error(failure_kind::http_status, 401,
                             "HTTP 401: Incorrect API key provided.");
  REQUIRE(key);
  CHECK(*key == "HTTP 401: Incorrect API key provided.; fix: the server "
                "refused the API key: check api.api_key / api.api_key_env "
                "(the variable it names must hold the key)");
  auto forbidden = unhealing_error(failure_kind::http_status, 403, "HTTP 403: no");
  REQUIRE(forbidden);
  CHECK(forbidden->find("check api.api_key / api.api_key_env and models.default")
        != std::string::npos);
  // vLLM's 404 and an OpenAI-style 400 naming the model.
  for (auto [status, text] :
       {std::pair{404, "HTTP 404: The model `x` does not exist."},
        std::pair{400, "HTTP 400: model 'x' not found"}}) {
    CAPTURE(text);
    auto model = unhealing_error(failure_kind::http_status, status, text);
    REQUIRE(model);
    CHECK(model->find("set models.default") != std::string::npos);
  }
  auto path = unhealing_error(failure_kind::http_status, 404, "HTTP 404: File Not Found");
  REQUIRE(path);
  CHECK(path->find("check api.base_url") != std::string::npos);
  auto cert = unhealing_error(failure_kind::certificate, 0,
                              "SSL certificate problem: self-signed certificate");
  REQUIRE(cert);
  CHECK(cert->find("api.ca_file") != std::string::npos);
  CHECK_FALSE(is_retryable(failure_kind::certificate, 0));
}

TEST_CASE("unhealing_error: what may heal or concerns one item is not one") {
  using evo::unhealing_error;
  CHECK_FALSE(unhealing_error(failure_kind::http_status, 400, "HTTP 400: bad prompt"));
  CHECK_FALSE(unhealing_error(failure_kind::http_status, 403,
                              "refused by worker w1: n 8 is over the worker's limit 2"));
  CHECK_FALSE(unhealing_error(failure_kind::http_status, 429, "HTTP 429: slow down"));
  CHECK_FALSE(unhealing_error(failure_kind::http_status, 503, "HTTP 503: model not found"));
  CHECK_FALSE(unhealing_error(failure_kind::connect, 0,
                              "Could not resolve host: nosuchhost.invalid"));
  CHECK_FALSE(unhealing_error(failure_kind::transport, 0, "Connection reset"));
  CHECK_FALSE(unhealing_error(failure_kind::timeout, 0, ""));
}
