// The coordinator actor with stand-in request actors and writer: request
// actors that die, a run that loses all of them, a stop before the start.
#include <doctest/doctest.h>

#include "caf/all.hpp"

#include <chrono>

#include "actors/coordinator/coordinator_actor.hpp"
#include "app/node.hpp"

using namespace evo;

namespace {

// Answers every attempt with one choice.
request_actor::behavior_type fine_actor() {
  return {
    [](const work_item& w) {
      attempt_result r;
      r.job = w.job;
      r.index = w.index;
      r.attempt = w.attempt;
      r.sends = 1;
      r.choices = {"name"};
      return r;
    },
  };
}

// Dies on its first attempt, the way an actor that crashed would.
request_actor::behavior_type dying_actor(request_actor::pointer self) {
  return {
    [self](const work_item&) -> caf::result<attempt_result> {
      self->quit(caf::sec::runtime_error);
      return caf::make_error(caf::sec::runtime_error, "crashed");
    },
  };
}

// Keeps nothing, counts what it is asked to write.
writer_actor::behavior_type null_writer() {
  return {
    [](open_atom, const job_output&) -> uint64_t { return 0; },
    [](write_batch& b) {
      write_report rep;
      for (auto& item : b.items) {
        write_stats ws;
        ws.choices = ws.kept = static_cast<uint32_t>(item.choices.size());
        rep.items.push_back(ws);
      }
      return rep;
    },
    [](failure_record& rec) { return rec.index; },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  fixture() {
    configure_system(cfg, false, {});
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  run_plan plan(uint64_t requests) {
    run_plan p;
    p.jobs.push_back(make_job("a", "l2r", endpoint_kind::completions, "{}",
                              requests));
    p.max_in_flight = 8;
    p.worker_grace = std::chrono::seconds(60); // waiting would show
    return p;
  }
  // Runs the plan; the answer must come within 10 s.
  run_summary run(run_plan p, std::vector<request_actor> pool,
                  request_factory respawn = {}) {
    auto coord = sys->spawn(coordinator, std::move(p), std::move(pool),
                            rate_limiter_actor{}, sys->spawn(null_writer),
                            std::move(respawn));
    caf::scoped_actor self{*sys};
    run_summary out;
    bool answered = false;
    self->request(coord, std::chrono::seconds(10), run_atom_v)
      .receive(
        [&](run_summary& s) {
          out = std::move(s);
          answered = true;
        },
        [&](caf::error& err) { FAIL_CHECK(caf::to_string(err)); });
    CHECK(answered);
    return out;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a request actor that dies is not waited for") {
  std::vector<request_actor> pool{sys->spawn(dying_actor),
                                  sys->spawn(fine_actor)};
  auto s = run(plan(20), std::move(pool));
  CHECK(s.aborted.empty());
  REQUIRE(s.jobs.size() == 1);
  CHECK(s.jobs[0].done == 20);      // the item at the dead actor went again
  // The lost attempt counts: it may have reached the server.
  CHECK(s.jobs[0].attempts == 21);
}

TEST_CASE_FIXTURE(fixture, "a local request actor that dies is replaced") {
  std::vector<request_actor> pool{sys->spawn(dying_actor)};
  int spawned = 0;
  auto s = run(plan(20), std::move(pool), [&] {
    ++spawned;
    return request_actor{sys->spawn(fine_actor)};
  });
  CHECK(s.aborted.empty());
  REQUIRE(s.jobs.size() == 1);
  CHECK(s.jobs[0].done == 20);
  CHECK(spawned == 1);
}

TEST_CASE_FIXTURE(fixture, "an actor that keeps dying is replaced a bounded "
                           "number of times, then the run ends") {
  std::vector<request_actor> pool{sys->spawn(dying_actor),
                                  sys->spawn(dying_actor)};
  int spawned = 0;
  auto s = run(plan(20), std::move(pool), [&] {
    ++spawned;
    return request_actor{sys->spawn(dying_actor)};
  });
  CHECK(spawned == 2); // pool size
  CHECK(s.aborted.find("every request actor died") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "a local run that lost every request actor ends "
                           "at once with a clear reason") {
  std::vector<request_actor> pool{sys->spawn(dying_actor),
                                  sys->spawn(dying_actor)};
  auto s = run(plan(20), std::move(pool));
  CHECK(s.aborted.find("every request actor died") != std::string::npos);
  REQUIRE(s.jobs.size() == 1);
  CHECK(s.jobs[0].done == 0);
}

TEST_CASE_FIXTURE(fixture, "a stop that arrives before the run starts ends "
                           "it at once, interrupted") {
  auto coord = sys->spawn(coordinator, plan(20),
                          std::vector<request_actor>{sys->spawn(fine_actor)},
                          rate_limiter_actor{}, sys->spawn(null_writer),
                          request_factory{});
  caf::anon_send(coordinator_actor{coord}, stop_atom_v, false);
  caf::scoped_actor self{*sys};
  self->request(coord, std::chrono::seconds(10), run_atom_v)
    .receive([&](run_summary& s) {
               CHECK(s.interrupted);
               CHECK(s.jobs[0].done == 0);
             },
             [&](caf::error& err) { FAIL_CHECK(caf::to_string(err)); });
}
