// n_split: a server's largest n read from its refusal, split plans, bodies
// with another n, and parts gathered back into one planned item.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors/coordinator/n_split.hpp"

using evo::n_splitter;
using evo::parse_n_limit;
using evo::split_n;
using item = evo::scheduler::item;

namespace {

evo::attempt_result ok_with(size_t choices, uint32_t attempt = 0) {
  evo::attempt_result r;
  r.attempt = attempt;
  r.model = "m";
  for (size_t k = 0; k < choices; ++k)
    r.choices.push_back("c" + std::to_string(k));
  return r;
}

} // namespace

TEST_CASE("parse_n_limit reads the largest n of a refusal") {
  // llama.cpp's llama-server, byte for byte as classify_outcome reports it.
  CHECK(parse_n_limit("HTTP 400: Field 'n': Value must be between 1 <= value "
                      "<= 4, but got 8")
        == 4u);
  CHECK(parse_n_limit("Field 'n': Value must be between 1 <= value <= 16, but got 32")
        == 16u);
  CHECK(parse_n_limit("'n' must be <= 2") == 2u);
  CHECK(parse_n_limit("Invalid value: n must be at most 3") == 3u);
  CHECK(parse_n_limit("`n` must be less than or equal to 5") == 5u);
  // Not about n, or no usable number.
  CHECK(!parse_n_limit("max_tokens must be <= 4096"));
  CHECK(!parse_n_limit("Field 'temperature': Value must be between 0 <= value <= 2"));
  CHECK(!parse_n_limit("Field 'n': Value must be between 1 <= value <= 0, but got 8"));
  CHECK(!parse_n_limit("n 8 is over the worker's limit 4"));
  CHECK(!parse_n_limit(""));
}

TEST_CASE("split_n cuts n into parts of at most max_n") {
  CHECK(split_n(8, 4) == std::vector<uint32_t>{4, 4});
  CHECK(split_n(10, 4) == std::vector<uint32_t>{4, 4, 2});
  CHECK(split_n(3, 4) == std::vector<uint32_t>{3});
  CHECK(split_n(3, 0) == std::vector<uint32_t>{3});
  CHECK(split_n(5, 1) == std::vector<uint32_t>{1, 1, 1, 1, 1});
}

TEST_CASE("body_n and body_with_n") {
  CHECK(evo::body_n(R"({"model":"m","n":8})") == 8u);
  CHECK(evo::body_n(R"({"model":"m"})") == 1u);
  CHECK(evo::body_n("not json") == 1u);
  auto b = nlohmann::json::parse(evo::body_with_n(R"({"model":"m","n":8,"stop":["\n"]})", 3));
  CHECK(b["n"] == 3);
  CHECK(b["model"] == "m");
  CHECK(b["stop"][0] == "\n");
}

TEST_CASE("a refusal teaches the cap; the item goes again as parts") {
  const std::string body = R"({"model":"m","n":8})";
  n_splitter s({body});
  item it{0, 7, 0, 0};
  CHECK(s.split(it).empty()); // nothing known yet: sent whole
  CHECK(&s.body(it, body) == &body);
  CHECK(!s.refused(it, 500, "Field 'n': Value must be between 1 <= value <= 4"));
  CHECK(!s.refused(it, 400, "model does not exist"));
  REQUIRE(s.refused(it, 400, "HTTP 400: Field 'n': Value must be between 1 "
                             "<= value <= 4, but got 8"));
  CHECK(s.max_n() == 4u);
  auto rest = s.split(it);
  REQUIRE(rest.size() == 1);
  CHECK(it.n == 4u);
  CHECK(rest[0].n == 4u);
  CHECK(rest[0].index == 7u);
  CHECK(nlohmann::json::parse(s.body(it, body))["n"] == 4);
  std::vector<item> more;
  auto r1 = ok_with(4);
  CHECK(!s.answered(it, r1, more)); // one part still out
  CHECK(more.empty());
  auto r2 = ok_with(4);
  auto g = s.answered(rest[0], r2, more);
  REQUIRE(g);
  CHECK(!g->failed);
  CHECK(g->choices.size() == 8);
  REQUIRE(s.notes().size() == 1);
  CHECK(s.notes()[0]
        == "server caps n at 4 (it refused a larger n): each request of n 8 "
           "sent as 2 requests");
  // A refusal naming a limit not below what was asked is a plain failure.
  item small{0, 8, 0, 4};
  CHECK(!s.refused(small, 400, "Field 'n': Value must be between 1 <= value <= 4"));
}

TEST_CASE("fewer choices than asked: the rest goes out as parts") {
  n_splitter s({R"({"n":8})"});
  item it{0, 1, 0, 0};
  std::vector<item> more;
  auto r = ok_with(3);
  CHECK(!s.answered(it, r, more));
  CHECK(s.max_n() == 3u);
  REQUIRE(more.size() == 2); // 5 missing: 3 + 2
  CHECK(more[0].n == 3u);
  CHECK(more[1].n == 2u);
  std::vector<item> none;
  auto a = ok_with(3);
  CHECK(!s.answered(more[0], a, none));
  auto b = ok_with(2);
  auto g = s.answered(more[1], b, none);
  REQUIRE(g);
  CHECK(g->choices.size() == 8);
  CHECK(none.empty());
  // A whole answer of an item never split passes through.
  n_splitter plain({R"({"n":2})"});
  auto w = ok_with(2);
  item one{0, 2, 0, 0};
  auto whole = plain.answered(one, w, none);
  REQUIRE(whole);
  CHECK(whole->choices.size() == 2);
  CHECK(plain.max_n() == 0u);
  CHECK(plain.notes().empty());
}

TEST_CASE("a part that fails for good fails the item once all parts are back") {
  n_splitter s({R"({"n":8})"});
  item it{0, 3, 0, 0};
  REQUIRE(s.refused(it, 400, "Field 'n': Value must be between 1 <= value <= 4"));
  auto rest = s.split(it);
  REQUIRE(rest.size() == 1);
  evo::attempt_result bad;
  bad.attempt = 2;
  bad.failure = evo::failure_kind::http_status;
  bad.http_status = 500;
  bad.detail = "HTTP 500: boom";
  CHECK(!s.failed(it, bad));
  std::vector<item> more;
  auto r = ok_with(4);
  auto g = s.answered(rest[0], r, more);
  REQUIRE(g);
  CHECK(g->failed);
  CHECK(g->attempts == 3u);
  CHECK(g->http_status == 500);
  CHECK(g->detail == "HTTP 500: boom");
}
