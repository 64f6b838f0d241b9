// Connect/close cycles against an in-process server on 127.0.0.1 (port picked
// by the kernel): each cycle is netasync::connect, wait for connected, send
// close, wait for closed. After a warm-up, open file descriptors and RSS are
// measured at the start and at the end; descriptors must come back to the
// starting level and RSS must stay bounded. Every wait is bounded.

#define BOOST_TEST_MODULE resource_cycles
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "netasync/all.hpp"
#include "support/status_wait.hpp"
#include "support/test_util.hpp"

using namespace netasync;
using namespace std::chrono_literals;

using namespace netasync::test;

namespace {

using clock_type = std::chrono::steady_clock;


long long ms_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           clock_type::now() - t0)
    .count();
}

// The server application: subscribes to every accepted connection and
// forgets it on closed, or when the connection actor ends without having
// told it (a connection may end before the subscription arrives). Counts
// both, so the test can tell how server-side connections ended.
struct server_state {
  std::vector<connection> conns;
  std::shared_ptr<std::atomic<size_t>> live;
  std::shared_ptr<std::atomic<size_t>> closed_seen;
  std::shared_ptr<std::atomic<size_t>> gone_unreported;
  static inline const char* name = "resource_test.server";
};

void forget(caf::stateful_actor<server_state>* self, const caf::actor_addr& a) {
  auto& xs = self->state.conns;
  auto i = std::find_if(xs.begin(), xs.end(),
                        [&](const connection& c) { return c.address() == a; });
  if (i != xs.end()) {
    xs.erase(i);
    --*self->state.live;
  }
}

caf::behavior server_app(caf::stateful_actor<server_state>* self,
                         std::shared_ptr<std::atomic<size_t>> live,
                         std::shared_ptr<std::atomic<size_t>> closed_seen,
                         std::shared_ptr<std::atomic<size_t>> gone_unreported) {
  self->state.live = std::move(live);
  self->state.closed_seen = std::move(closed_seen);
  self->state.gone_unreported = std::move(gone_unreported);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& xs = self->state.conns;
    auto known = std::any_of(xs.begin(), xs.end(), [&](const connection& c) {
      return c.address() == dm.source;
    });
    if (known) {
      ++*self->state.gone_unreported;
      forget(self, dm.source);
    }
  });
  return {
    [=](accepted_atom, const acceptor&, const connection& conn) {
      self->state.conns.push_back(conn);
      ++*self->state.live;
      self->monitor(conn);
      self->send(conn, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
    },
    [=](const connection& conn, bytes& payload) {
      self->send(conn, std::move(payload));
    },
    [](connected_atom, const connection&) {},
    [](disconnected_atom, const connection&, const caf::error&) {},
    [=](closed_atom, const connection& conn, const caf::error&) {
      ++*self->state.closed_seen;
      forget(self, conn.address());
    },
    [](closed_atom, const acceptor&, const caf::error&) {},
  };
}

struct cycles_fixture {
  system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::shared_ptr<std::atomic<size_t>> live
    = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<std::atomic<size_t>> closed_seen
    = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<std::atomic<size_t>> gone_unreported
    = std::make_shared<std::atomic<size_t>>(0);
  caf::actor server;
  options opts;
  acceptor acc;
  uint16_t port = 0;

  cycles_fixture() {
    // Short timers: a closed connection's pending timer messages (the close
    // linger tick, the liveness ticks) keep its actors
    // in memory until they fire; with the defaults (5 s linger, 20 s
    // heartbeat timeout) that is 10,000s of connections at this churn, which
    // would swamp the figure this test is after: what stays.
    opts.heartbeat_period = 100ms; // stuck tick after 400 ms
    opts.close_linger = 200ms;
    opts.reconnect_period = 100ms;
    opts.connect_timeout = 2s;
    server = sys.spawn(server_app, live, closed_seen, gone_unreported);
    auto a = accept(sys, "127.0.0.1", 0, opts, {server});
    if (!a)
      BOOST_FAIL("accept failed: " + describe(a.error()));
    acc = *a;
    auto p = bound_port(sys, acc);
    BOOST_REQUIRE(p);
    port = *p;
  }

  ~cycles_fixture() {
    caf::anon_send_exit(server, caf::exit_reason::kill);
  }

  /// The next status of `conn` ("timeout" after `within`).
  std::string next_status(const connection& conn, caf::timespan within) {
    return next_status_of(self, conn, within);
  }

  /// One cycle; returns "" on success, else what went wrong.
  std::string cycle() {
    auto conn = connect(sys, "127.0.0.1", port, opts,
                        {caf::actor_cast<caf::actor>(self)});
    if (!conn)
      return "connect: " + describe(conn.error());
    auto st = next_status(*conn, 5s);
    if (st != "connected") {
      self->send(*conn, close_atom::value);
      next_status(*conn, 5s);
      return "expected connected, got " + st;
    }
    self->send(*conn, close_atom::value);
    st = next_status(*conn, 5s);
    if (st != "closed:none")
      return "expected closed:none, got " + st;
    return "";
  }

  /// Waits (bounded) until the server side has forgotten every connection.
  bool server_idle(caf::timespan within) {
    auto deadline = clock_type::now() + within;
    while (live->load() > 0) {
      if (clock_type::now() >= deadline)
        return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(resource_cycles, cycles_fixture)

BOOST_AUTO_TEST_CASE(ten_thousand_connect_close_cycles_return_fds_and_bound_rss) {
  constexpr size_t warmup = 100;
  constexpr size_t cycles = 10000;
  // Stop early, and say so, if the cycles would take much longer than this.
  constexpr auto time_budget = 50s;
  size_t failures = 0;
  std::string first_failure;
  auto run = [&](size_t n, clock_type::time_point deadline) {
    size_t done = 0;
    for (; done < n && clock_type::now() < deadline; ++done) {
      auto err = cycle();
      if (!err.empty() && failures++ == 0)
        first_failure = err;
    }
    return done;
  };
  run(warmup, clock_type::now() + 30s);
  BOOST_REQUIRE(server_idle(5s));
  auto fds_start = open_fds();
  auto rss_start = rss_bytes();
  auto t0 = clock_type::now();
  auto done = run(cycles, t0 + time_budget);
  auto elapsed_ms = std::max<long long>(1, ms_since(t0));
  BOOST_CHECK_MESSAGE(server_idle(5s),
                      live->load() << " server-side connections still live");
  // Server-side connections end asynchronously after the client's closed;
  // give the last ones a moment to release their sockets.
  auto fds_end = open_fds();
  auto fd_deadline = clock_type::now() + 5s;
  while (fds_end > fds_start + 2 && clock_type::now() < fd_deadline) {
    std::this_thread::sleep_for(10ms);
    fds_end = open_fds();
  }
  auto rss_end = rss_bytes();
  auto growth = rss_end > rss_start ? rss_end - rss_start : 0;
  BOOST_TEST_MESSAGE(done << " connect/close cycles in " << elapsed_ms
                     << " ms (" << done * 1000 / elapsed_ms << " cycles/s), "
                     << failures << " failed"
                     << (first_failure.empty() ? "" : ", first: ")
                     << first_failure);
  BOOST_TEST_MESSAGE("open fds: " << fds_start << " after the warm-up, "
                     << fds_end << " at the end");
  BOOST_TEST_MESSAGE("RSS: " << mib(rss_start) << " MiB after the warm-up, "
                     << mib(rss_end) << " MiB at the end (growth "
                     << mib(growth) << " MiB, "
                     << (done ? growth / done : 0) << " B per cycle)");
  BOOST_TEST_MESSAGE("server side: " << closed_seen->load()
                     << " closed statuses, " << gone_unreported->load()
                     << " connections ended before the subscription arrived");
  BOOST_CHECK_MESSAGE(done == cycles, "only " << done << " of " << cycles
                                              << " cycles fit the time budget");
  BOOST_CHECK_EQUAL(failures, 0u);
  // Every cycle's sockets (client and server side) are closed by now; the
  // process holds what it held after the warm-up. 2 spare: a descriptor the
  // I/O thread may hold for an instant (an accept completing, a socket being
  // closed) when we look; a real leak is one or more per cycle, i.e.
  // thousands.
  BOOST_CHECK_LE(fds_end, fds_start + 2);
  // RSS: nothing of a closed connection may stay. The bound, 16 MiB over
  // 10,000 cycles, is 1.6 KiB per cycle: less than what one closed
  // connection's supervisor actor occupies (about 1.9 KiB), so keeping that
  // per cycle fails. When nothing stays, growth measured about 3 MiB here
  // (allocator and CAF cache noise), 5 times below the bound. ASan keeps
  // freed memory in quarantine, so RSS says nothing there.
#if !defined(__SANITIZE_ADDRESS__)
  BOOST_CHECK_LT(growth, size_t{16} * 1024 * 1024);
#endif
}

BOOST_AUTO_TEST_SUITE_END()
