// Simulator: the continuous-batching server model (--batch-model): step time,
// KV capacity and its queue, overload answers, prompt tokens and prefill,
// the capacity schedule, and the request log's token and active fields.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "tests/sim/sim_test_util.hpp"
#include "tests/support/child_process.hpp"
#include "tools/sim/batch_model.hpp"

using simtest::json;
using simtest::sim;
using namespace std::chrono_literals;

namespace {

// An L2R request cut at `tokens` tokens (the def line is longer), with a
// request seed so the text (and so its token count) is fixed.
json req(int tokens, int seed, int n = 1) {
  return {{"prompt", "def "}, {"max_tokens", tokens}, {"seed", seed}, {"n", n}};
}

evo::sim::sim_options batch_opts() {
  evo::sim::sim_options o;
  o.batch_model = true;
  o.step_base_ms = 100;
  o.step_per_seq_ms = 0;
  o.kv_capacity = 64;
  return o;
}

struct timed {
  int status = 0;
  double ms = 0;
  std::string retry_after, body;
};

// Sends the bodies at once, one connection each; returns status and latency per request.
std::vector<timed> burst(const sim& s, const std::vector<json>& bodies) {
  std::vector<timed> out(bodies.size());
  std::vector<std::thread> ts;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < bodies.size(); ++i)
    ts.emplace_back([&, i] {
      auto r = s.client(20000)->Post("/v1/completions", bodies[i].dump(), "application/json");
      out[i].ms = simtest::ms_since(t0);
      if (!r) return;
      out[i].status = r->status;
      out[i].retry_after = r->get_header_value("Retry-After");
      out[i].body = r->body;
      if (r->status == 200)  // every choice as long as asked
        CHECK(json::parse(r->body)["usage"]["completion_tokens"] ==
              bodies[i]["max_tokens"].get<int>() * bodies[i]["n"].get<int>());
    });
  for (auto& t : ts) t.join();
  return out;
}

double longest(const std::vector<timed>& v) {
  double m = 0;
  for (const auto& t : v) m = std::max(m, t.ms);
  return m;
}

}  // namespace

TEST_CASE("batch model: a request takes completion tokens x step time") {
  auto o = batch_opts();
  sim s(o);
  auto r = burst(s, {req(3, 1)});
  CHECK(r[0].status == 200);
  CHECK(r[0].ms >= 295);  // 3 steps of 100 ms
  CHECK(r[0].ms < 1000);
}

TEST_CASE("batch model: each step is slower with more active sequences") {
  auto o = batch_opts();
  o.step_base_ms = 0;
  o.step_per_seq_ms = 40;
  sim s(o);
  // Alone, one sequence: 3 steps of 40 ms.
  auto one = burst(s, {req(3, 1)});
  CHECK(one[0].status == 200);
  CHECK(one[0].ms < 360);
  // n = 4 is four sequences: 3 steps of 160 ms.
  auto wide = burst(s, {req(3, 2, 4)});
  CHECK(wide[0].status == 200);
  CHECK(wide[0].ms >= 475);
  // Four requests side by side: each step 160 ms for all of them.
  auto four = burst(s, {req(3, 3), req(3, 4), req(3, 5), req(3, 6)});
  for (const auto& t : four) {
    CHECK(t.status == 200);
    CHECK(t.ms >= 360);  // none ran alone (alone: 120 ms)
  }
  CHECK(longest(four) < 1000);
}

TEST_CASE("batch model: beyond the KV capacity sequences wait in a queue") {
  auto o = batch_opts();
  o.kv_capacity = 2;
  sim s(o);
  auto r = burst(s, {req(3, 1), req(3, 2), req(3, 3), req(3, 4)});
  std::vector<double> ms;
  for (const auto& t : r) {
    CHECK(t.status == 200);
    ms.push_back(t.ms);
  }
  std::sort(ms.begin(), ms.end());
  // Two ran at once, the other two after them: the second pair starts when
  // the first ends and needs its own 3 steps of 100 ms (measured as a gap,
  // so a slow build still tells; without the queue all four end together).
  CHECK(ms[2] >= 590);
  CHECK(ms[3] >= 590);
  CHECK(ms[2] >= ms[1] + 200);

  auto wide_open = batch_opts();
  wide_open.kv_capacity = 4;
  sim w(wide_open);
  // With room for all four they end together, a queue's 3 steps earlier.
  CHECK(longest(burst(w, {req(3, 1), req(3, 2), req(3, 3), req(3, 4)}))
        < ms[2] - 150);
}

TEST_CASE("batch model: beyond overload_queue queued requests answer 503 or 429 with Retry-After") {
  for (int status : {503, 429}) {
    CAPTURE(status);
    const auto dir = evo::test::make_temp_dir();
    auto o = batch_opts();
    o.kv_capacity = 1;
    o.overload_queue = 1;
    o.overload_status = status;
    o.log_requests = dir + "/log.jsonl";
    sim s(o);
    auto r = burst(s, {req(3, 1), req(3, 2), req(3, 3), req(3, 4), req(3, 5)});
    int ok = 0, refused = 0;
    for (const auto& t : r) {
      if (t.status == 200) {
        ++ok;
      } else {
        CHECK(t.status == status);
        CHECK(t.retry_after == "1");
        CHECK(simtest::is_error_shape(t.body));
        CHECK(t.ms < 250);  // at once, not after the queue
        ++refused;
      }
    }
    // One decodes, at most one waits: the rest are refused.
    CHECK(ok >= 1);
    CHECK(ok <= 2);
    CHECK(refused == 5 - ok);
    s.server->stop();
    int logged = 0;
    for (const auto& l : simtest::read_log(o.log_requests))
      if (l.at("fault") == "overload") {
        CHECK(l.at("status") == status);
        ++logged;
      }
    CHECK(logged == refused);
  }
}

TEST_CASE("batch model: prompt tokens are counted, prefill takes their time, the log has tokens and the active count") {
  const auto dir = evo::test::make_temp_dir();
  auto o = batch_opts();
  o.step_base_ms = 20;
  o.prefill_per_token_ms = 0.5;
  o.log_requests = dir + "/log.jsonl";
  sim s(o);
  json big = req(2, 1);
  big["prompt"] = std::string(1998, 'x') + "\ndef ";  // 2003 characters, 501 tokens: 250 ms of prefill
  auto r = burst(s, {big});
  CHECK(r[0].status == 200);
  CHECK(r[0].ms >= 280);  // prefill + 2 steps of 20 ms
  auto usage = json::parse(r[0].body)["usage"];
  CHECK(usage["prompt_tokens"] == 501);

  auto many = burst(s, {req(3, 2), req(3, 3), req(3, 4), req(3, 5), req(3, 6)});
  for (const auto& t : many) CHECK(t.status == 200);
  s.server->stop();
  auto log = simtest::read_log(o.log_requests);
  REQUIRE(log.size() == 6);
  CHECK(log[0].at("prompt_tokens") == 501);
  CHECK(log[0].at("completion_tokens") == 2);
  int saw_others = 0;
  for (size_t i = 1; i < log.size(); ++i) {
    CHECK(log[i].at("prompt_tokens") == 1);
    CHECK(log[i].at("completion_tokens") == 3);
    if (log[i].at("active").get<int>() + log[i].at("queued").get<int>() > 0) ++saw_others;
  }
  CHECK(saw_others >= 1);  // five at once: the later arrivals found the first ones in the engine
}

TEST_CASE("batch model: the log's active and queued are the engine's at arrival; /health shows them") {
  const auto dir = evo::test::make_temp_dir();
  auto o = batch_opts();
  o.kv_capacity = 3;
  o.log_requests = dir + "/log.jsonl";
  sim s(o);
  std::thread a([&] { burst(s, {req(4, 1, 3)}); });  // three sequences, 400 ms
  int active = -1;
  for (int i = 0; i < 200 && active != 3; ++i) {  // until the engine runs it (bounded: 2 s)
    auto h = s.client()->Get("/health");
    REQUIRE(h);
    active = json::parse(h->body).at("active_sequences").get<int>();
    if (active != 3) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(active == 3);
  auto b = burst(s, {req(1, 2)});  // does not fit: waits for the first
  a.join();
  CHECK(b[0].status == 200);
  CHECK(b[0].ms >= 150);
  s.server->stop();
  auto log = simtest::read_log(o.log_requests);
  std::vector<json> gen;
  for (const auto& l : log)
    if (l.at("endpoint") == "/v1/completions") gen.push_back(l);
  REQUIRE(gen.size() == 2);
  const auto& second = gen[0].at("n") == 1 ? gen[0] : gen[1];
  CHECK(second.at("active") == 3);
  CHECK(second.at("queued") == 0);
}

TEST_CASE("batch model: the capacity schedule changes the capacity during the run") {
  auto o = batch_opts();
  o.capacity_schedule = "0:1,0.5:4";
  sim s(o);
  // Capacity 1 until 0.5 s: the first two run one after the other (0-0.3,
  // 0.3-0.6); at the step boundary at 0.5 s the other two are admitted.
  auto r = burst(s, {req(3, 1), req(3, 2), req(3, 3), req(3, 4)});
  for (const auto& t : r) CHECK(t.status == 200);
  CHECK(longest(r) >= 740);
  CHECK(longest(r) < 1100);  // at capacity 1 throughout: 1.2 s

  evo::sim::capacity_schedule sched;
  std::string err;
  REQUIRE(evo::sim::parse_capacity_schedule("0:64,30:16,60:64", sched, &err));
  CHECK(evo::sim::capacity_at(sched, 0, 8) == 64);
  CHECK(evo::sim::capacity_at(sched, 29.9, 8) == 64);
  CHECK(evo::sim::capacity_at(sched, 30, 8) == 16);
  CHECK(evo::sim::capacity_at(sched, 75, 8) == 64);
  CHECK(evo::sim::capacity_at({{10, 2}}, 5, 8) == 8);
  for (const char* bad : {"", "0", "0:0", "a:3", "0:4,0:5", "5:4,2:8", "0:4,", "-1:4"}) {
    CAPTURE(bad);
    CHECK_FALSE(evo::sim::parse_capacity_schedule(bad, sched, &err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("batch model: with schedule_from_load the schedule starts at that load, not at the start") {
  auto o = batch_opts();
  o.capacity_schedule = "0:1";
  o.schedule_from_load = 3;
  sim s(o);
  // Six steps of 100 ms each. Two at once never reach the load of 3:
  // capacity 64, side by side (0.6-0.7 s, as the second catches the first
  // step or the next; were the schedule running from the start, one after
  // the other, 1.2 s).
  auto two = burst(s, {req(6, 1), req(6, 2)});
  for (const auto& t : two) CHECK(t.status == 200);
  CHECK(longest(two) < 1100);
  // The third of three at once starts the schedule: capacity 1 from the
  // next step, so the third waits for those admitted before it (one or two,
  // as the engine woke) and runs after them: 1.2 or 1.8 s, not 0.6-0.7.
  auto three = burst(s, {req(6, 3), req(6, 4), req(6, 5)});
  for (const auto& t : three) CHECK(t.status == 200);
  CHECK(longest(three) >= 1150);
}

TEST_CASE("batch model: flags of the executable") {
  const std::string bin = std::string(EVO_BINARY_DIR) + "/evoselfcode-sim";
  for (std::vector<std::string> args : {std::vector<std::string>{"--kv-capacity", "4"},
                                        {"--batch-model", "--capacity-schedule", "0:4,x:5"},
                                        {"--batch-model", "--schedule-from-load", "3"},
                                        {"--batch-model", "--overload-status", "500"},
                                        {"--batch-model", "--kv-capacity", "0"}}) {
    args.insert(args.begin(), bin);
    CAPTURE(args[1]);
    evo::test::child_process p(args);
    auto code = p.wait(10s);
    REQUIRE(code);
    CHECK(*code == 2);
    CHECK_FALSE(p.drain_stderr().empty());
  }
  auto e = evo::test::start_sim({"--batch-model", "--step-base-ms", "50", "--step-per-seq-ms", "0",
                                 "--kv-capacity", "1", "--overload-queue", "1", "--overload-status", "429"});
  httplib::Client c("127.0.0.1", e.port);
  c.set_read_timeout(10, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.Post("/v1/completions", req(4, 1).dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(simtest::ms_since(t0) >= 190);  // 4 steps of 50 ms
  e.proc->signal(SIGTERM);
  CHECK(e.proc->wait(10s));
}
