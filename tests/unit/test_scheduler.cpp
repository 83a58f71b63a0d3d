// scheduler: due retries first, round-robin fairness, target pacing, resume
// skips, shrunk budgets, the in-flight cap.
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "actors/coordinator/scheduler.hpp"
#include "messages/settings.hpp"

using evo::job_spec;
using evo::scheduler;
using evo::write_stats;

namespace {

job_spec fixed(const char* name, uint64_t requests) {
  return evo::make_job(name, "fim", evo::endpoint_kind::completions, "{}",
                       requests);
}

job_spec target(const char* name, uint64_t unique, uint64_t max_requests) {
  auto j = fixed(name, 0);
  j.target_unique = unique;
  j.max_requests = max_requests;
  return j;
}

write_stats kept(uint32_t n) {
  write_stats ws;
  ws.choices = n;
  ws.kept = n;
  return ws;
}

// Takes and sends items until the scheduler has none or `limit` went out.
std::vector<scheduler::item> drain(scheduler& s, size_t limit = 1000) {
  std::vector<scheduler::item> out;
  while (out.size() < limit && s.has_work()) {
    auto it = s.next();
    REQUIRE(it);
    s.sent(*it);
    out.push_back(*it);
  }
  return out;
}

} // namespace

TEST_CASE("in-flight cap: min(pool, semaphore); no semaphore, no extra cap") {
  evo::api_config api;
  api.max_concurrent_requests = 40;
  CHECK(api.max_in_flight() == 40);
  api.semaphore_size = 10;
  CHECK(api.max_in_flight() == 10);
  api.semaphore_size = 50;
  CHECK(api.max_in_flight() == 40);
}

TEST_CASE("room: never more than the cap in flight, nor than idle actors") {
  scheduler s({fixed("a", 100)}, 3);
  CHECK(s.room(5) == 3);
  CHECK(s.room(2) == 2);
  auto sent = drain(s, 3);
  CHECK(sent.size() == 3);
  CHECK(s.in_flight() == 3);
  CHECK(s.room(5) == 0);
  s.returned(sent[0], 1, 0);
  CHECK(s.room(5) == 1);
}

TEST_CASE("fresh items go round-robin over the jobs") {
  scheduler s({fixed("a", 3), fixed("b", 3), fixed("c", 1)}, 100);
  std::vector<uint32_t> jobs;
  for (auto& it : drain(s))
    jobs.push_back(it.job);
  CHECK(jobs == std::vector<uint32_t>{0, 1, 2, 0, 1, 0, 1});
}

TEST_CASE("due retries go before fresh items, oldest first") {
  scheduler s({fixed("a", 10), fixed("b", 10)}, 100);
  auto first = drain(s, 4); // a0 b0 a1 b1
  REQUIRE(first.size() == 4);
  for (auto& it : first)
    s.returned(it, 1, 0);
  s.retry_due({1, 0, 1});
  s.retry_due({0, 1, 1});
  auto next = drain(s, 3);
  REQUIRE(next.size() == 3);
  CHECK(next[0].job == 1);
  CHECK(next[0].index == 0);
  CHECK(next[0].attempt == 1);
  CHECK(next[1].job == 0);
  CHECK(next[1].index == 1);
  CHECK(next[1].attempt == 1);
  CHECK(next[2].attempt == 0); // then fresh work again
  CHECK(next[2].index == 2);
}

TEST_CASE("fairness holds while retries come and go") {
  // A job whose every attempt fails once must not starve the other: fresh
  // items still alternate between the jobs.
  scheduler s({fixed("flaky", 6), fixed("fine", 6)}, 100);
  std::vector<uint32_t> fresh_jobs;
  for (int round = 0; round < 6; ++round) {
    auto it = s.next();
    REQUIRE(it);
    s.sent(*it);
    if (it->attempt == 0)
      fresh_jobs.push_back(it->job);
    s.returned(*it, 1, 0);
    if (it->job == 0 && it->attempt == 0)
      s.retry_due({0, it->index, 1});
  }
  // flaky0, (retry), fine0, flaky1, (retry), fine1
  CHECK(fresh_jobs == std::vector<uint32_t>{0, 1, 0, 1});
}

TEST_CASE("target pacing: ceil(missing / names per request) in the air") {
  scheduler s({target("t", 10, 1000)}, 1000);
  // No request finished yet: one name per request is assumed.
  auto first = drain(s);
  CHECK(first.size() == 10);
  // Three requests finish with 2 names each: 4 missing, 2 per request,
  // so 2 in the air at most; 7 still are.
  for (int i = 0; i < 3; ++i) {
    s.returned(first[i], 1, 0);
    s.written(0, kept(2));
  }
  CHECK(s.job(0).outstanding == 7);
  CHECK_FALSE(s.has_work());
  // Four of them come back empty: 4 missing over 6/7 per request -> 5.
  for (int i = 3; i < 7; ++i) {
    s.returned(first[i], 1, 0);
    s.written(0, kept(0));
  }
  CHECK(s.job(0).outstanding == 3);
  auto more = drain(s);
  CHECK(more.size() == 2); // ceil(4 / (6/7)) = 5 = 3 + 2
  CHECK(s.job(0).outstanding == 5);
}

TEST_CASE("target pacing: a job stops once the target is kept") {
  scheduler s({target("t", 4, 100)}, 100);
  auto sent = drain(s);
  REQUIRE(sent.size() == 4);
  s.returned(sent[0], 1, 0);
  s.written(0, kept(4));
  CHECK_FALSE(s.has_work());
  CHECK_FALSE(s.check_job(0)); // three still outstanding
  for (int i = 1; i < 4; ++i) {
    s.returned(sent[i], 1, 0);
    s.written(0, kept(0));
  }
  CHECK(s.check_job(0, 1.5));
  CHECK(s.all_finished());
  CHECK(s.summary(2.0).jobs[0].wall_s == 1.5);
}

TEST_CASE("resume: items finished before are skipped") {
  auto spec = fixed("a", 6);
  spec.finished_before = {4, 0, 2};
  scheduler s({spec}, 100);
  std::vector<uint64_t> indices;
  for (auto& it : drain(s))
    indices.push_back(it.index);
  CHECK(indices == std::vector<uint64_t>{1, 3, 5});
  auto sum = s.summary(1.0);
  CHECK(sum.jobs[0].planned == 3);
  CHECK(sum.jobs[0].resumed_items == 3);
}

TEST_CASE("resume: a job finished before finishes at the start") {
  auto spec = fixed("a", 2);
  spec.finished_before = {0, 1};
  scheduler s({spec}, 100);
  CHECK_FALSE(s.has_work());
  CHECK(s.check_job(0));
  CHECK(s.all_finished());
}

TEST_CASE("resume after the budget shrank: entries beyond it are done-before") {
  // 15 requests ran (some of them) before; the plan now asks for 5.
  auto spec = fixed("a", 5);
  spec.finished_before = {0, 1, 2, 6, 9, 14};
  scheduler s({spec}, 100);
  std::vector<uint64_t> indices;
  for (auto& it : drain(s))
    indices.push_back(it.index);
  CHECK(indices == std::vector<uint64_t>{3, 4});
  auto sum = s.summary(1.0);
  CHECK(sum.jobs[0].planned == 2);
  CHECK(sum.jobs[0].resumed_items == 6);
  CHECK(s.progress(1.0)[0].total == 2);
  // Everything of the new plan done before: nothing to send, planned 0.
  auto all = fixed("b", 5);
  all.finished_before = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  scheduler done({all}, 100);
  CHECK_FALSE(done.has_work());
  CHECK(done.summary(1.0).jobs[0].planned == 0);
  CHECK(done.check_job(0));
}

TEST_CASE("a lost attempt goes again first, and still counts as an attempt") {
  scheduler s({fixed("a", 5)}, 100);
  auto sent = drain(s, 2);
  REQUIRE(sent.size() == 2);
  CHECK(s.job(0).stats.attempts == 2);
  s.returned(sent[0], 1, 0);
  s.retry_due({0, sent[0].index, 1}); // due already, but the lost one is older
  s.lost(sent[1]);
  CHECK(s.in_flight() == 0);
  // It may have reached the server before its request actor was lost.
  CHECK(s.job(0).stats.attempts == 2);
  auto again = s.next();
  REQUIRE(again);
  CHECK(again->index == sent[1].index);
  CHECK(again->attempt == sent[1].attempt);
}

TEST_CASE("libcurl's own re-sends count as attempts and transport retries") {
  scheduler s({fixed("a", 1)}, 100);
  auto sent = drain(s);
  REQUIRE(sent.size() == 1);
  s.returned(sent[0], 3, 1000);
  auto& st = s.job(0).stats;
  CHECK(st.attempts == 3);
  CHECK(st.retries_by_kind[static_cast<size_t>(evo::failure_kind::transport)]
        == 2);
  CHECK(s.in_flight() == 0);
}

TEST_CASE("a job finishes when every item is written or failed") {
  scheduler s({fixed("a", 2), fixed("b", 1)}, 100);
  auto sent = drain(s);
  REQUIRE(sent.size() == 3);
  for (auto& it : sent)
    s.returned(it, 1, 0);
  s.written(0, kept(1));
  CHECK_FALSE(s.check_job(0));
  s.failed(0);
  CHECK(s.check_job(0));
  CHECK_FALSE(s.check_job(0)); // only once
  CHECK_FALSE(s.all_finished());
  s.written(1, kept(1));
  CHECK(s.check_job(1));
  CHECK(s.all_finished());
  auto sum = s.summary(1.0);
  CHECK(sum.jobs[0].done == 1);
  CHECK(sum.jobs[0].failed == 1);
}

TEST_CASE("token account: the debt is paid before a token is used") {
  evo::token_account t;
  t.tokens = 2;
  t.debt = 3;
  CHECK_FALSE(t.pay_and_check());
  CHECK(t.tokens == 0);
  CHECK(t.debt == 1);
  CHECK(t.want(4) == 5);
  t.tokens = 3;
  CHECK(t.pay_and_check());
  CHECK(t.tokens == 2);
  CHECK(t.debt == 0);
}

namespace {

write_stats repeated(uint32_t n) {
  write_stats ws;
  ws.choices = n;
  ws.duplicates = n;
  return ws;
}

} // namespace

TEST_CASE("stop_when: a job stops issuing once few of its last choices were new") {
  auto spec = fixed("a", 1000);
  spec.stop_when = {0.1, 40}; // fewer than 4 new in the last 40
  scheduler s{{spec, fixed("b", 3)}, 100};
  auto items = drain(s, 30);
  REQUIRE(items.size() == 30);
  // job a: 10 requests of 4 choices, 4 of them new in all
  int a_done = 0;
  bool fired = false;
  for (auto& it : items) {
    if (it.job != 0 || a_done == 10)
      continue;
    s.returned(it, 1, 1000);
    write_stats ws = a_done < 4 ? kept(1) : repeated(4);
    if (a_done < 4) {
      ws.choices = 4;
      ws.duplicates = 3;
    }
    fired = s.written(0, ws);
    ++a_done;
    if (a_done < 10)
      CHECK_FALSE(fired); // the window is not full before 40 choices
  }
  // 40 choices, 4 new: not fewer than 10 %
  CHECK_FALSE(fired);
  CHECK(s.job(0).fresh_available());
  // one more request of repeats pushes a new one out: 3 of 40
  auto more = s.next();
  REQUIRE(more);
  REQUIRE(more->job == 0); // b has issued all it has
  s.sent(*more);
  s.returned(*more, 1, 1000);
  CHECK(s.written(0, repeated(4)));
  CHECK_FALSE(s.job(0).fresh_available());
}

TEST_CASE("stop_when: a saturated job finishes with stopped_by saturation") {
  auto spec = fixed("a", 1000);
  spec.stop_when = {0.5, 8};
  scheduler s{{spec}, 4};
  auto items = drain(s, 4);
  REQUIRE(items.size() == 4);
  s.returned(items[0], 1, 1000);
  CHECK_FALSE(s.written(0, repeated(4)));
  s.returned(items[1], 1, 1000);
  CHECK(s.written(0, repeated(4)));
  CHECK(s.job(0).stats.stopped_by == "saturation");
  CHECK(s.job(0).stats.stopped_at_choices == 8);
  CHECK_FALSE(s.has_work()); // nothing fresh any more
  CHECK_FALSE(s.check_job(0)); // two still in flight
  for (size_t i = 2; i < 4; ++i) {
    s.returned(items[i], 1, 1000);
    CHECK_FALSE(s.written(0, repeated(4)));
  }
  CHECK(s.check_job(0));
  CHECK(s.all_finished());
  auto sum = s.summary(1.0);
  CHECK(sum.jobs[0].stopped_by == "saturation");
  CHECK(sum.jobs[0].stopped_at_choices == 8);
  CHECK(sum.jobs[0].choices == 16);
}

TEST_CASE("stopped_by: budget for num_batches, target for target_unique") {
  scheduler s{{fixed("a", 2), target("t", 3, 10)}, 10};
  auto items = drain(s);
  for (auto& it : items) {
    s.returned(it, 1, 1000);
    s.written(it.job, kept(it.job == 0 ? 1 : 3));
    s.check_job(it.job);
  }
  REQUIRE(s.all_finished());
  CHECK(s.job(0).stats.stopped_by == "budget");
  CHECK(s.job(1).stats.stopped_by == "target");
  CHECK(s.job(0).stats.stopped_at_choices == 2);
}
