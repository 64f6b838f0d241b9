#pragma once

// Deterministic actor tests: CAF's test coordinator (every actor runs on the
// test's thread, only when the test says so) and virtual time. Subscribers are
// recorders that log every message they receive as a readable string.

#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "netasync/connection.hpp"
#include "netasync/error.hpp"
#include "support/fake_transport.hpp"
#include "support/test_util.hpp"

namespace netasync::test {

struct test_config : caf::actor_system_config {
  test_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
  }
};

using event_log = std::shared_ptr<std::vector<std::string>>;

/// A subscriber that records: "data:<payload>", "connected",
/// "disconnected:<code>", "closed:<code>".
inline caf::behavior recorder(caf::event_based_actor*, event_log log) {
  return {
    [=](const connection&, const bytes& payload) {
      log->emplace_back("data:" + std::string(payload.begin(), payload.end()));
    },
    [=](connected_atom, const connection&) { log->emplace_back("connected"); },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      log->emplace_back("disconnected:" + code_name(err));
    },
    [=](closed_atom, const connection&, const caf::error& err) {
      log->emplace_back("closed:" + code_name(err));
    },
    [=](stats_atom, const connection&, const connection_stats& st) {
      log->emplace_back("stats:sent=" + std::to_string(st.sent) + ",received="
                        + std::to_string(st.received));
    },
  };
}

struct actor_fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::vector<caf::actor> to_stop;

  ~actor_fixture() {
    for (auto& x : to_stop)
      caf::anon_send_exit(x, caf::exit_reason::kill);
    run();
    fake_transport::end_all();
    run();
  }

  /// Runs every actor and every fake link until all mailboxes are empty and
  /// no link has work posted (bounded).
  void run() {
    for (size_t rounds = 0;; ++rounds) {
      BOOST_REQUIRE_LT(rounds, 100000u);
      auto n = sched.run(1000000);
      BOOST_REQUIRE_LT(n, 1000000u);
      if (fake_transport::poll_all() == 0 && n == 0)
        return;
    }
  }

  /// Moves virtual time forward, firing due timers (the actors' and the
  /// fake links'), then runs.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    fake_transport::fire_all_timers();
    run();
  }

  /// A recorder and its log.
  std::pair<caf::actor, event_log> make_recorder() {
    auto log = std::make_shared<std::vector<std::string>>();
    auto hdl = sys.spawn(recorder, log);
    to_stop.push_back(hdl);
    return {hdl, log};
  }

  /// Sends a request to a handle and returns its reply (runs the scheduler
  /// to get it; a missing reply fails the test instead of blocking).
  template <class Result, class Handle, class... Ts>
  caf::expected<Result> ask(const Handle& hdl, Ts... xs) {
    caf::scoped_actor self{sys};
    auto rh = self->request(hdl, caf::infinite, xs...);
    run();
    if (self->mailbox().empty()) {
      BOOST_ERROR("no reply to request");
      return caf::sec::request_timeout;
    }
    caf::expected<Result> result = caf::sec::request_timeout;
    rh.receive([&](Result& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// As ask(), for requests that reply nothing on success.
  template <class Handle, class... Ts>
  caf::error ask_void(const Handle& hdl, Ts... xs) {
    caf::scoped_actor self{sys};
    auto rh = self->request(hdl, caf::infinite, xs...);
    run();
    if (self->mailbox().empty()) {
      BOOST_ERROR("no reply to request");
      return caf::sec::request_timeout;
    }
    caf::error result;
    rh.receive([&] {}, [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace netasync::test
