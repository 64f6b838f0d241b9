// Deterministic tests of the connection worker and supervisor: CAF's test
// coordinator, virtual time, a fake transport and a fake dialer. No sockets,
// no sleeps: every timing assertion is exact.

#define BOOST_TEST_MODULE connection_actor
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "connection_supervisor.hpp"
#include "receive_credit.hpp"
#include "subscriber_watch.hpp"
#include "support/actor_fixture.hpp"
#include "support/fake_dialer.hpp"

using namespace netasync;
using namespace netasync::test;
using namespace std::chrono_literals;

namespace {

constexpr caf::timespan ns1{1};

std::string join(const std::vector<std::string>& xs) {
  std::string r = "[";
  for (auto& x : xs) {
    if (r.size() > 1)
      r += ", ";
    r += x;
  }
  return r + "]";
}

// A subscriber that leaves payloads unprocessed in its mailbox (skipped)
// until it receives "drain", then records like a recorder.
caf::behavior lagging_recorder(caf::event_based_actor* self, event_log log) {
  return {
    [](const connection&, const bytes&) -> caf::result<void> {
      return caf::skip;
    },
    [=](caf::atom_value) { self->become(recorder(self, log)); },
    [=](connected_atom, const connection&) { log->emplace_back("connected"); },
    [](disconnected_atom, const connection&, const caf::error&) {},
    [](closed_atom, const connection&, const caf::error&) {},
  };
}

/// A receive window that `n` payloads of `bytes` bytes in all just fill: each
/// counts its bytes plus detail::payload_overhead.
size_t window_for(size_t bytes, size_t n) {
  return bytes + n * detail::payload_overhead;
}

#define CHECK_LOG(actual, ...)                                                 \
  BOOST_CHECK_EQUAL(join(actual), join(std::vector<std::string>{__VA_ARGS__}))

struct client_fixture : actor_fixture {
  std::shared_ptr<fake_dialer> dialer = std::make_shared<fake_dialer>();
  options opts;
  caf::actor sub;
  event_log log;
  connection conn;

  caf::actor watch = detail::spawn_subscriber_watch(sys);

  client_fixture() {
    to_stop.push_back(watch);
    std::tie(sub, log) = make_recorder();
    dialer->clock = &sched.clock();
  }

  ~client_fixture() {
    if (conn)
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    run();
  }

  void start() {
    supervisor_config c;
    c.side = role::client;
    c.host = "peer";
    c.port = 4711;
    c.dial = dialer;
    c.opts = std::make_shared<const options>(opts);
    c.subscribers = {sub};
    c.watch = watch;
    conn = spawn_connection_supervisor(sys, std::move(c));
    run();
  }

  std::shared_ptr<fake_transport> link_up() {
    auto tr = dialer->succeed();
    run();
    return tr;
  }

  void send(const std::string& str) {
    caf::anon_send(conn, bytes(str.begin(), str.end()));
    run();
  }

  connection_stats stats() {
    auto s = ask<connection_stats>(conn, get_atom::value, stats_atom::value);
    BOOST_REQUIRE(s);
    return *s;
  }

  void clear_log() {
    log->clear();
  }

  /// Fails the dial under way `n` times; returns each wait until the next
  /// attempt (as the stats announce it), checked to the nanosecond: no
  /// attempt one nanosecond before it, one at it.
  std::vector<caf::timespan> waits_after_failures(size_t n) {
    std::vector<caf::timespan> waits;
    for (size_t i = 0; i < n; ++i) {
      auto before = dialer->attempts;
      dialer->fail(make_error(error::connect_failed));
      run();
      auto wait = stats().next_retry_in;
      waits.push_back(wait);
      if (wait >= ns1) {
        advance(wait - ns1);
        BOOST_REQUIRE_EQUAL(dialer->attempts, before);
        advance(ns1);
      } else {
        advance(wait);
      }
      BOOST_REQUIRE_EQUAL(dialer->attempts, before + 1);
    }
    return waits;
  }

  /// Brings a link up and loses it after `up_for`.
  void link_lost_after(caf::timespan up_for) {
    auto tr = link_up();
    for (auto left = up_for; left > caf::timespan{0};) {
      // Heartbeats keep the link alive meanwhile.
      auto step = std::min(left, caf::timespan{1s});
      advance(step);
      tr->receive();
      run();
      left -= step;
    }
    tr->fail(make_error(error::connection_lost));
    run();
  }
};

std::vector<caf::timespan> ms_list(std::initializer_list<int> xs) {
  std::vector<caf::timespan> r;
  for (auto x : xs)
    r.emplace_back(std::chrono::milliseconds(x));
  return r;
}

std::string show(const std::vector<caf::timespan>& xs) {
  std::vector<std::string> strs;
  for (auto x : xs)
    strs.push_back(std::to_string(x.count()) + "ns");
  return join(strs);
}

struct server_fixture : actor_fixture {
  std::shared_ptr<fake_transport> tr
    = std::make_shared<fake_transport>(&sched.clock());
  options opts;
  connection conn;
  caf::actor watch = detail::spawn_subscriber_watch(sys);
  // Every actor spawned for a connection (the supervisor_config's track).
  std::shared_ptr<std::vector<caf::actor>> spawned
    = std::make_shared<std::vector<caf::actor>>();

  server_fixture() {
    to_stop.push_back(watch);
  }

  ~server_fixture() {
    if (conn)
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    run();
  }

  /// A subscribed server connection told to shut down while its link
  /// holds the close back (as the real link may, for a moment).
  event_log shut_down_while_the_link_holds_its_close() {
    start();
    auto [sub, log] = make_recorder();
    caf::anon_send(conn, subscribe_atom::value, sub);
    run();
    tr->hold();
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    run();
    BOOST_REQUIRE(!tr->closed());
    return log;
  }

  void start() {
    conn = start_on(tr);
  }

  connection_stats stats() {
    auto s = ask<connection_stats>(conn, get_atom::value, stats_atom::value);
    BOOST_REQUIRE(s);
    return *s;
  }

  /// A server connection around `link`, not yet told to start it (as the
  /// acceptor spawns one).
  connection spawn_on(std::shared_ptr<fake_transport> link) {
    supervisor_config c;
    c.side = role::server;
    c.accepted = std::move(link);
    c.opts = std::make_shared<const options>(opts);
    c.watch = watch;
    c.track = [xs = spawned](const caf::actor& x) { xs->push_back(x); };
    auto hdl = spawn_connection_supervisor(sys, std::move(c));
    run();
    return hdl;
  }

  /// A subscriber that sends every payload back.
  caf::actor spawn_echo() {
    auto echo = sys.spawn([](caf::event_based_actor* self) {
      return caf::behavior{
        [=](const connection& c, bytes& payload) {
          self->send(c, std::move(payload));
        },
        [](connected_atom, const connection&) {},
        [](closed_atom, const connection&, const caf::error&) {}};
    });
    to_stop.push_back(echo);
    return echo;
  }

  connection start_on(std::shared_ptr<fake_transport> link) {
    auto hdl = spawn_on(std::move(link));
    caf::anon_send(caf::actor_cast<caf::actor>(hdl), start_link_atom::value);
    run();
    return hdl;
  }
};

} // namespace

// -- connecting and status order ---------------------------------------------

BOOST_FIXTURE_TEST_SUITE(client, client_fixture)

BOOST_AUTO_TEST_CASE(dials_at_once_and_reports_connected) {
  start();
  BOOST_CHECK_EQUAL(dialer->attempts, 1u);
  CHECK_LOG(*log);
  auto tr = link_up();
  BOOST_CHECK_EQUAL(tr->starts, 1u);
  CHECK_LOG(*log, "connected");
  BOOST_CHECK_EQUAL(stats().state, "connected");
}

BOOST_AUTO_TEST_CASE(statuses_and_payloads_arrive_in_wire_order) {
  start();
  auto tr1 = link_up();
  tr1->receive({"a", "b"});
  run();
  tr1->receive({"c"});
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = link_up();
  tr2->receive({"d"});
  run();
  CHECK_LOG(*log, "connected", "data:a", "data:b", "data:c",
            "disconnected:connection_lost", "connected", "data:d");
}

BOOST_AUTO_TEST_CASE(every_read_goes_through_the_links_upper_to_the_subscribers) {
  // The one receive path production takes: the link hands each read's
  // payloads to its upper (subscriber_delivery), which sends them.
  start();
  auto tr = link_up();
  tr->receive({"a"});
  run();
  tr->receive({"b", "c"});
  run();
  tr->receive({"d"});
  run();
  BOOST_CHECK_EQUAL(tr->upper_deliveries, 3u);
  BOOST_CHECK(!tr->paused());
  CHECK_LOG(*log, "connected", "data:a", "data:b", "data:c", "data:d");
}

BOOST_AUTO_TEST_CASE(failed_attempt_reports_disconnected_and_retries_after_the_period) {
  start();
  dialer->fail(make_error(error::connect_failed));
  run();
  CHECK_LOG(*log, "disconnected:connect_failed");
  advance(opts.reconnect_period - ns1);
  BOOST_CHECK_EQUAL(dialer->attempts, 1u);
  advance(ns1);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(client_started_before_server_keeps_trying_until_it_connects) {
  start();
  for (int i = 0; i < 5; ++i) {
    dialer->fail(make_error(error::connect_failed));
    run();
    advance(opts.reconnect_period);
  }
  BOOST_CHECK_EQUAL(dialer->attempts, 6u);
  link_up();
  BOOST_CHECK_EQUAL(log->back(), "connected");
  BOOST_CHECK_EQUAL(stats().disconnects, 5u);
}

BOOST_AUTO_TEST_CASE(reconnects_one_period_after_the_link_is_lost) {
  start();
  auto tr = link_up();
  tr->fail(make_error(error::connection_lost));
  run();
  BOOST_CHECK_EQUAL(dialer->attempts, 1u);
  advance(opts.reconnect_period - ns1);
  BOOST_CHECK_EQUAL(dialer->attempts, 1u);
  advance(ns1);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(reconnect_does_not_wait_for_subscribers_to_read) {
  // net.async only retries after the application took :disconnected.
  start();
  caf::anon_send(conn, unsubscribe_atom::value, sub);
  run();
  auto tr = link_up();
  tr->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(late_subscriber_learns_connected_before_payloads) {
  start();
  auto tr = link_up();
  auto [late, late_log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, late);
  run();
  tr->receive({"x"});
  run();
  CHECK_LOG(*late_log, "connected", "data:x");
}

BOOST_AUTO_TEST_CASE(unsubscribed_actor_receives_nothing_more) {
  start();
  auto tr = link_up();
  caf::anon_send(conn, unsubscribe_atom::value, sub);
  run();
  tr->receive({"x"});
  tr->fail(make_error(error::connection_lost));
  run();
  CHECK_LOG(*log, "connected");
}

// -- heartbeats and stuck detection ------------------------------------------

BOOST_AUTO_TEST_CASE(link_is_started_to_keep_itself_alive_at_the_heartbeat_period) {
  // The link writes the heartbeats on its own timer (no actor message per
  // heartbeat); loopback_test checks them on the wire.
  start();
  auto tr = link_up();
  BOOST_CHECK(tr->keep_alive_period() == opts.heartbeat_period);
  BOOST_CHECK_EQUAL(tr->starts, 1u);
}

BOOST_AUTO_TEST_CASE(silent_link_is_dropped_exactly_at_the_heartbeat_timeout) {
  start();
  auto tr = link_up();
  auto timeout = opts.effective_heartbeat_timeout();
  BOOST_CHECK(timeout == 20s);
  advance(timeout - ns1);
  BOOST_CHECK(!tr->closed());
  BOOST_CHECK_EQUAL(log->back(), "connected");
  advance(ns1);
  BOOST_CHECK(tr->closed());
  BOOST_CHECK(!tr->closed_gracefully);
  BOOST_CHECK_EQUAL(log->back(), "disconnected:heartbeat_timeout");
  advance(opts.reconnect_period);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(heartbeats_from_the_peer_keep_the_link) {
  start();
  auto tr = link_up();
  for (int i = 0; i < 12; ++i) {
    advance(opts.heartbeat_period);
    tr->receive();
    run();
  }
  BOOST_CHECK(!tr->closed());
  CHECK_LOG(*log, "connected");
}

BOOST_AUTO_TEST_CASE(heartbeats_noted_by_the_transport_alone_keep_the_link) {
  // Reads of heartbeats send the worker no message; it asks the transport
  // when it last read, and times out exactly from there.
  start();
  auto tr = link_up();
  auto timeout = opts.effective_heartbeat_timeout();
  for (int i = 0; i < 12; ++i) {
    advance(opts.heartbeat_period);
    tr->receive(); // heartbeats only
  }
  BOOST_CHECK(!tr->closed());
  advance(timeout - ns1);
  BOOST_CHECK(!tr->closed());
  advance(ns1);
  BOOST_CHECK(tr->closed());
  BOOST_CHECK_EQUAL(log->back(), "disconnected:heartbeat_timeout");
}

BOOST_AUTO_TEST_CASE(timeout_follows_the_period_unless_set) {
  opts.heartbeat_period = 250ms;
  BOOST_CHECK(opts.effective_heartbeat_timeout() == 1s);
  opts.heartbeat_timeout = 3s;
  BOOST_CHECK(opts.effective_heartbeat_timeout() == 3s);
  start();
  auto tr = link_up();
  advance(3s - ns1);
  BOOST_CHECK(!tr->closed());
  advance(ns1);
  BOOST_CHECK(tr->closed());
}

BOOST_AUTO_TEST_CASE(frame_trickled_past_the_frame_timeout_drops_the_link) {
  opts.frame_timeout = 3s;
  start();
  auto tr = link_up();
  // A frame of 1000 bytes begins and never completes.
  tr->receive_bytes(fake_transport::frame_header(1000) + "x");
  run();
  for (int i = 0; i < 5; ++i) { // a byte every 500 ms keeps the link alive
    advance(500ms);
    tr->receive_bytes("x");
    run();
  }
  advance(500ms - ns1);
  BOOST_CHECK(!tr->closed());
  advance(ns1);
  BOOST_CHECK(tr->closed());
  BOOST_CHECK_EQUAL(log->back(), "disconnected:frame_timeout");
}

BOOST_AUTO_TEST_CASE(steady_stream_of_partial_reads_is_no_trickle) {
  opts.frame_timeout = 3s;
  start();
  auto tr = link_up();
  // Every read ends inside a frame, but frames keep completing.
  auto head = fake_transport::frame_header(4);
  tr->receive_bytes(head + "ab");
  for (int i = 0; i < 40; ++i) {
    advance(500ms);
    tr->receive_bytes("cd" + head + "ab");
  }
  run();
  BOOST_CHECK(!tr->closed());
  BOOST_CHECK_EQUAL(log->size(), 41u);
  BOOST_CHECK_EQUAL(log->front(), "connected");
  BOOST_CHECK_EQUAL(log->back(), "data:abcd");
}

BOOST_AUTO_TEST_CASE(a_client_reads_on_while_its_outbound_buffer_is_full) {
  // Two ends that both stopped reading while their own buffer is full would
  // wait for each other forever in a bulk transfer both ways.
  opts.max_outbound_messages = 8;
  start();
  auto tr = link_up();
  tr->auto_complete = false;
  for (int i = 0; i < 8; ++i)
    send("x");
  tr->receive({"a"});
  run();
  BOOST_CHECK(!tr->paused());
  BOOST_CHECK_EQUAL(log->back(), "data:a");
}

// -- counters ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(stats_count_messages_and_bytes_each_way_and_the_link) {
  start();
  auto tr = link_up();
  send("abc");
  send("de");
  tr->receive({"12345"});
  run();
  auto s = stats();
  BOOST_CHECK_EQUAL(s.sent, 2u);
  BOOST_CHECK_EQUAL(s.bytes_sent, 5u);
  BOOST_CHECK_EQUAL(s.received, 1u);
  BOOST_CHECK_EQUAL(s.bytes_received, 5u);
  BOOST_CHECK_EQUAL(s.connects, 1u);
  BOOST_CHECK(s.link_up_at != caf::timestamp{});
  BOOST_CHECK(!s.last_error);
  tr->fail(make_error(error::connection_lost));
  run();
  s = stats();
  BOOST_CHECK(s.link_up_at == caf::timestamp{});
  BOOST_CHECK_EQUAL(code_name(s.last_error), "connection_lost");
  BOOST_CHECK_EQUAL(s.state, "disconnected");
}

BOOST_AUTO_TEST_CASE(with_final_stats_the_last_counters_come_right_before_closed) {
  opts.final_stats = true;
  start();
  auto tr = link_up();
  send("abc");
  tr->receive({"x"});
  run();
  caf::anon_send(conn, close_atom::value);
  run();
  CHECK_LOG(*log, "connected", "data:x", "stats:sent=1,received=1",
            "closed:none");
  conn = nullptr;
}

// -- reconnect policy ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(by_default_every_wait_is_the_reconnect_period_forever) {
  start();
  BOOST_CHECK_EQUAL(show(waits_after_failures(6)),
                    show(ms_list({1000, 1000, 1000, 1000, 1000, 1000})));
  BOOST_CHECK_EQUAL(stats().attempt, 6u);
}

BOOST_AUTO_TEST_CASE(backoff_multiplies_each_wait) {
  opts.reconnect_period = 100ms;
  opts.reconnect_backoff = 2;
  start();
  BOOST_CHECK_EQUAL(show(waits_after_failures(5)),
                    show(ms_list({100, 200, 400, 800, 1600})));
}

BOOST_AUTO_TEST_CASE(backoff_stops_at_the_max_period) {
  opts.reconnect_period = 1s;
  opts.reconnect_backoff = 3;
  opts.reconnect_max_period = 5s;
  start();
  BOOST_CHECK_EQUAL(show(waits_after_failures(5)),
                    show(ms_list({1000, 3000, 5000, 5000, 5000})));
}

BOOST_AUTO_TEST_CASE(full_jitter_draws_each_wait_below_its_backoff) {
  opts.reconnect_period = 1s;
  opts.reconnect_backoff = 2;
  opts.reconnect_max_period = 64s;
  opts.reconnect_jitter = jitter_policy::full;
  opts.reconnect_seed = 42;
  start();
  auto waits = waits_after_failures(6);
  auto base = caf::timespan{1s};
  std::set<caf::timespan::rep> distinct_fractions;
  for (auto w : waits) {
    BOOST_CHECK(w >= caf::timespan{0} && w < base);
    distinct_fractions.insert(w.count() * 1000 / base.count());
    base *= 2;
  }
  BOOST_CHECK_GT(distinct_fractions.size(), 3u); // not one fixed fraction
}

BOOST_AUTO_TEST_CASE(a_seeded_jitter_repeats_its_waits) {
  opts.reconnect_jitter = jitter_policy::full;
  opts.reconnect_seed = 7;
  start();
  auto first = waits_after_failures(4);
  auto restart = [&] {
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    run();
    dialer->pending.clear(); // the ended connection's dial
    start();
  };
  restart();
  BOOST_CHECK_EQUAL(show(waits_after_failures(4)), show(first));
  opts.reconnect_seed = 8;
  restart();
  BOOST_CHECK_NE(show(waits_after_failures(4)), show(first));
}

BOOST_AUTO_TEST_CASE(equal_jitter_keeps_at_least_half_of_each_wait) {
  opts.reconnect_period = 1s;
  opts.reconnect_jitter = jitter_policy::equal;
  opts.reconnect_seed = 42;
  start();
  for (auto w : waits_after_failures(8))
    BOOST_CHECK(w >= caf::timespan{500ms} && w < caf::timespan{1s});
}

BOOST_AUTO_TEST_CASE(a_link_up_for_a_heartbeat_timeout_starts_the_waits_over) {
  opts.reconnect_period = 100ms;
  opts.reconnect_backoff = 2;
  start();
  BOOST_CHECK_EQUAL(show(waits_after_failures(3)),
                    show(ms_list({100, 200, 400})));
  link_lost_after(opts.effective_heartbeat_timeout());
  BOOST_CHECK_EQUAL(stats().attempt, 1u);
  BOOST_CHECK(stats().next_retry_in == 100ms);
}

BOOST_AUTO_TEST_CASE(a_flapping_link_does_not_start_the_waits_over) {
  opts.reconnect_period = 100ms;
  opts.reconnect_backoff = 2;
  start();
  BOOST_CHECK_EQUAL(show(waits_after_failures(3)),
                    show(ms_list({100, 200, 400})));
  link_lost_after(opts.effective_heartbeat_timeout() - 1ms);
  BOOST_CHECK_EQUAL(stats().attempt, 4u);
  BOOST_CHECK(stats().next_retry_in == 800ms);
}

BOOST_AUTO_TEST_CASE(past_the_attempt_limit_the_connection_closes) {
  opts.max_reconnect_attempts = 3;
  start();
  waits_after_failures(3); // the first dial, then reconnect attempts 1, 2
  BOOST_CHECK_EQUAL(log->back(), "disconnected:connect_failed");
  dialer->fail(make_error(error::connect_failed, "refused")); // attempt 3
  run();
  BOOST_CHECK_EQUAL(log->back(), "closed:reconnect_limit");
  advance(1h);
  BOOST_CHECK_EQUAL(dialer->attempts, 4u);
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(the_attempt_limit_counts_since_the_last_stable_link) {
  opts.max_reconnect_attempts = 2;
  start();
  waits_after_failures(2);
  link_lost_after(opts.effective_heartbeat_timeout());
  advance(opts.reconnect_period);
  waits_after_failures(1); // attempt 2 since the stable link
  BOOST_CHECK_EQUAL(log->back(), "disconnected:connect_failed");
  dialer->fail(make_error(error::connect_failed));
  run();
  BOOST_CHECK_EQUAL(log->back(), "closed:reconnect_limit");
  conn = nullptr;
}

// -- supervision ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(failed_worker_is_restarted_on_the_same_link) {
  start();
  auto tr = link_up();
  caf::anon_send(conn, crash_atom::value);
  run();
  BOOST_CHECK(!tr->closed());
  BOOST_CHECK_EQUAL(tr->starts, 1u); // the same link, untouched
  BOOST_CHECK_EQUAL(dialer->attempts, 1u); // no reconnect needed
  tr->receive({"after"});
  run();
  CHECK_LOG(*log, "connected", "disconnected:worker_failed", "connected",
            "data:after");
  send("still works");
  CHECK_LOG(tr->written, "still works");
  BOOST_CHECK_EQUAL(stats().restarts, 1u);
}

BOOST_AUTO_TEST_CASE(restarted_worker_keeps_heartbeats_and_stuck_detection) {
  start();
  auto tr = link_up();
  caf::anon_send(conn, crash_atom::value);
  run();
  // Heartbeats are the link's (started once, at its period); the successor
  // watches the link as its predecessor did.
  BOOST_CHECK_EQUAL(tr->starts, 1u);
  BOOST_CHECK(tr->keep_alive_period() == opts.heartbeat_period);
  advance(opts.effective_heartbeat_timeout());
  BOOST_CHECK(tr->closed());
  BOOST_CHECK_EQUAL(log->back(), "disconnected:heartbeat_timeout");
}

BOOST_AUTO_TEST_CASE(messages_sent_while_the_worker_fails_are_written_exactly_once) {
  start();
  auto tr = link_up();
  send("before");
  // The crash and the next write arrive together: the write goes from the
  // supervisor to the link, untouched by the failure, exactly once.
  caf::anon_send(conn, crash_atom::value);
  caf::anon_send(conn, bytes{'m'});
  run();
  CHECK_LOG(tr->written, "before", "m");
  BOOST_CHECK_EQUAL(stats().sent, 2u);
}

BOOST_AUTO_TEST_CASE(payloads_received_while_the_worker_fails_reach_the_subscribers) {
  start();
  auto tr = link_up();
  // The crash and two reads arrive together: the payloads must not die with
  // the worker, and must keep their order. (They go from the link to the
  // subscribers, so here they come before the statuses of the restart.)
  caf::anon_send(conn, crash_atom::value);
  sched.run_once(); // the supervisor forwards the crash
  tr->receive({"r1"});
  tr->receive({"r2", "r3"});
  run();
  CHECK_LOG(*log, "connected", "data:r1", "data:r2", "data:r3",
            "disconnected:worker_failed", "connected");
}

BOOST_AUTO_TEST_CASE(link_dropping_while_a_failed_worker_is_replaced_ends_the_link) {
  start();
  auto tr = link_up();
  caf::anon_send(conn, crash_atom::value);
  sched.run_once(); // the supervisor forwards the crash
  sched.run_once(); // the worker fails
  tr->fail(make_error(error::connection_lost)); // before anyone reacts
  run();
  CHECK_LOG(*log, "connected", "disconnected:worker_failed", "connected",
            "disconnected:connection_lost");
  advance(opts.reconnect_period);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(past_the_restart_intensity_the_connection_closes) {
  opts.max_restarts = 2;
  opts.restart_window = 10s;
  start();
  auto tr = link_up();
  for (int i = 0; i < 2; ++i) {
    caf::anon_send(conn, crash_atom::value);
    run();
    tr->receive(); // stay alive
    advance(1s);
  }
  BOOST_CHECK_EQUAL(stats().restarts, 2u);
  caf::anon_send(conn, crash_atom::value);
  run();
  BOOST_CHECK_EQUAL(log->back(), "closed:restart_intensity_exceeded");
  BOOST_CHECK(tr->closed());
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(failures_older_than_the_window_do_not_count) {
  opts.max_restarts = 1;
  opts.restart_window = 10s;
  opts.heartbeat_period = 5s;
  start();
  auto tr = link_up();
  for (int i = 0; i < 4; ++i) {
    caf::anon_send(conn, crash_atom::value);
    run();
    for (int j = 0; j < 3; ++j) {
      tr->receive();
      advance(4s);
    }
  }
  BOOST_CHECK(log->back() != "closed:restart_intensity_exceeded");
  BOOST_CHECK_EQUAL(stats().restarts, 4u);
}

// -- sending and the outbound buffer -----------------------------------------

BOOST_AUTO_TEST_CASE(messages_sent_while_disconnected_go_out_first_on_connect) {
  start();
  send("1");
  send("2");
  BOOST_CHECK_EQUAL(stats().buffered_messages, 2u);
  auto tr = link_up();
  send("3");
  CHECK_LOG(tr->written, "1", "2", "3");
  BOOST_CHECK_EQUAL(stats().buffered_messages, 0u);
  BOOST_CHECK_EQUAL(stats().sent, 3u);
}

BOOST_AUTO_TEST_CASE(unwritten_messages_are_resent_whole_after_a_drop) {
  start();
  auto tr1 = link_up();
  tr1->auto_complete = false;
  send("1");
  send("2");
  send("3");
  tr1->complete_writes(1); // the kernel took "1"; "2" and "3" not
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = link_up();
  CHECK_LOG(tr2->written, "2", "3");
  BOOST_CHECK_EQUAL(stats().sent, 3u);
}

BOOST_AUTO_TEST_CASE(a_write_is_confirmed_by_a_count_not_by_a_message) {
  start();
  auto tr = link_up();
  tr->auto_complete = false;
  send("1");
  tr->complete_writes();
  // Nothing waits for the write: the actor has nothing to do until it next
  // looks at its buffer, and then it knows.
  BOOST_CHECK(!sched.has_job());
  BOOST_CHECK_EQUAL(stats().sent, 1u);
  BOOST_CHECK_EQUAL(stats().buffered_messages, 0u);
}

BOOST_AUTO_TEST_CASE(a_link_quiet_for_a_heartbeat_period_tells_of_its_last_writes) {
  start();
  auto tr = link_up();
  send("1");
  BOOST_CHECK(!sched.has_job());
  // Nothing written for a period (past the heartbeat grid): the link sends
  // a heartbeat and tells the actor, so that an idle connection does not
  // keep its last writes in its buffer until its next send.
  sched.advance_time(opts.heartbeat_period + 100ms);
  fake_transport::fire_all_timers();
  BOOST_CHECK_EQUAL(tr->heartbeats_sent, 1u);
  BOOST_CHECK(sched.has_job());
  run();
  // Nothing new written since: the next quiet period tells nothing.
  sched.advance_time(opts.heartbeat_period + 100ms);
  fake_transport::fire_all_timers();
  BOOST_CHECK_EQUAL(tr->heartbeats_sent, 2u);
  BOOST_CHECK(!sched.has_job());
}

BOOST_AUTO_TEST_CASE(messages_beyond_the_write_window_go_out_as_the_link_writes) {
  start();
  auto tr = link_up();
  tr->auto_complete = false;
  std::vector<bytes> batch(1100, bytes{'m'});
  caf::anon_send(conn, std::move(batch));
  run();
  BOOST_CHECK_EQUAL(tr->written.size(), 1024u); // the write window
  // No send follows: the link's report alone hands out the rest.
  tr->complete_writes();
  run();
  BOOST_CHECK_EQUAL(tr->written.size(), 1100u);
  tr->complete_writes();
  BOOST_CHECK_EQUAL(stats().sent, 1100u);
}

BOOST_AUTO_TEST_CASE(heartbeat_held_during_an_outage_is_not_needed_after_reconnect) {
  // Heartbeats are per link: a new link starts its own period.
  start();
  auto tr1 = link_up();
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = link_up();
  BOOST_CHECK_EQUAL(tr2->starts, 1u);
  BOOST_CHECK(tr2->keep_alive_period() == opts.heartbeat_period);
}

BOOST_AUTO_TEST_CASE(reject_policy_replies_an_error_to_a_request) {
  opts.max_outbound_messages = 2;
  opts.overflow = overflow_policy::reject;
  start();
  BOOST_CHECK(!ask_void(conn, bytes{'1'}));
  BOOST_CHECK(!ask_void(conn, bytes{'2'}));
  auto err = ask_void(conn, bytes{'3'});
  BOOST_CHECK_EQUAL(code_name(err), "outbound_buffer_full");
  auto s = stats();
  BOOST_CHECK_EQUAL(s.rejected, 1u);
  BOOST_CHECK_EQUAL(s.buffered_messages, 2u);
  auto tr = link_up();
  CHECK_LOG(tr->written, "1", "2");
}

BOOST_AUTO_TEST_CASE(reject_policy_counts_refused_plain_sends) {
  opts.max_outbound_messages = 1;
  start();
  send("1");
  send("2");
  BOOST_CHECK_EQUAL(stats().rejected, 1u);
}

BOOST_AUTO_TEST_CASE(buffer_is_bounded_in_bytes_too) {
  opts.max_outbound_bytes = 10;
  start();
  send("12345");
  send("67890");
  send("x");
  auto s = stats();
  BOOST_CHECK_EQUAL(s.buffered_bytes, 10u);
  BOOST_CHECK_EQUAL(s.rejected, 1u);
}

BOOST_AUTO_TEST_CASE(drop_newest_policy_keeps_the_oldest_and_counts) {
  opts.max_outbound_messages = 2;
  opts.overflow = overflow_policy::drop_newest;
  start();
  for (auto x : {"1", "2", "3", "4"})
    send(x);
  BOOST_CHECK_EQUAL(stats().dropped, 2u);
  auto tr = link_up();
  CHECK_LOG(tr->written, "1", "2");
}

BOOST_AUTO_TEST_CASE(drop_oldest_policy_keeps_the_newest_and_counts) {
  opts.max_outbound_messages = 2;
  opts.overflow = overflow_policy::drop_oldest;
  start();
  for (auto x : {"1", "2", "3", "4"})
    send(x);
  BOOST_CHECK_EQUAL(stats().dropped, 2u);
  auto tr = link_up();
  CHECK_LOG(tr->written, "3", "4");
}

BOOST_AUTO_TEST_CASE(empty_payload_is_refused_and_never_written) {
  start();
  auto tr = link_up();
  auto err = ask_void(conn, bytes{});
  BOOST_CHECK_EQUAL(code_name(err), "empty_payload");
  BOOST_CHECK(tr->written.empty());
}

BOOST_AUTO_TEST_CASE(payload_over_the_max_frame_size_is_refused) {
  opts.max_frame_size = 4;
  start();
  BOOST_CHECK(!ask_void(conn, bytes(4, 'x')));
  auto err = ask_void(conn, bytes(5, 'x'));
  BOOST_CHECK_EQUAL(code_name(err), "frame_too_large");
}

// -- closing -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(close_drains_then_reports_closed) {
  start();
  auto tr = link_up();
  tr->auto_complete = false;
  send("1");
  send("2");
  caf::anon_send(conn, close_atom::value);
  run();
  BOOST_CHECK(!tr->closed()); // still draining
  tr->complete_writes();
  run();
  BOOST_CHECK(tr->closed_gracefully);
  BOOST_CHECK_EQUAL(log->back(), "closed:none");
  // The handle is gone: a request now fails.
  BOOST_CHECK(ask_void(conn, bytes{'x'}));
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(close_during_an_outage_with_nothing_queued_closes_at_once) {
  start();
  dialer->fail(make_error(error::connect_failed));
  run();
  caf::anon_send(conn, close_atom::value);
  run();
  BOOST_CHECK_EQUAL(log->back(), "closed:none");
  advance(opts.reconnect_period);
  BOOST_CHECK_EQUAL(dialer->attempts, 1u);
}

BOOST_AUTO_TEST_CASE(close_during_an_outage_drains_on_reconnect_within_the_linger) {
  start();
  dialer->fail(make_error(error::connect_failed));
  run();
  send("queued");
  caf::anon_send(conn, close_atom::value);
  run();
  BOOST_CHECK(log->back() != "closed:none");
  advance(opts.reconnect_period);
  auto tr = link_up();
  CHECK_LOG(tr->written, "queued");
  BOOST_CHECK_EQUAL(log->back(), "closed:none");
}

BOOST_AUTO_TEST_CASE(close_during_an_outage_gives_up_after_the_linger) {
  opts.close_linger = 3s;
  start();
  dialer->fail(make_error(error::connect_failed));
  run();
  send("a");
  send("b");
  caf::anon_send(conn, close_atom::value);
  run();
  advance(3s - ns1);
  BOOST_CHECK(log->back().rfind("closed", 0) != 0);
  advance(ns1);
  BOOST_CHECK_EQUAL(log->back(), "closed:linger_expired");
}

BOOST_AUTO_TEST_CASE(shutdown_reports_closed_to_subscribers) {
  start();
  link_up();
  caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
  run();
  BOOST_CHECK_EQUAL(log->back(), "closed:shutting_down");
  conn = nullptr;
}

BOOST_AUTO_TEST_SUITE_END()

// -- server side ----------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(server, server_fixture)

BOOST_AUTO_TEST_CASE(payloads_are_held_until_the_first_subscriber) {
  start();
  tr->receive({"early1", "early2"});
  run();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  tr->receive({"later"});
  run();
  CHECK_LOG(*log, "connected", "data:early1", "data:early2", "data:later");
}

BOOST_AUTO_TEST_CASE(the_accepted_link_starts_only_when_the_acceptor_says) {
  // The acceptor hands the connection out first, then starts it: nothing
  // the link causes can reach an observer before its `accepted`.
  conn = spawn_on(tr);
  BOOST_CHECK_EQUAL(tr->starts, 0u);
  caf::anon_send(caf::actor_cast<caf::actor>(conn), start_link_atom::value);
  run();
  BOOST_CHECK_EQUAL(tr->starts, 1u);
}

BOOST_AUTO_TEST_CASE(a_connection_ended_before_its_link_started_closes_the_link) {
  conn = spawn_on(tr);
  caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
  run();
  BOOST_CHECK_EQUAL(tr->starts, 0u);
  BOOST_CHECK(tr->closed());
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(a_subscriber_that_ends_is_dropped_and_payloads_wait_for_the_next) {
  start();
  auto [first, first_log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, first);
  run();
  caf::anon_send_exit(first, caf::exit_reason::kill);
  run();
  tr->receive({"kept"});
  run();
  auto [next, next_log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, next);
  run();
  CHECK_LOG(*next_log, "connected", "data:kept");
}

BOOST_AUTO_TEST_CASE(a_subscriber_of_several_connections_that_ends_is_dropped_by_each) {
  // One watch monitors the shared subscriber for both connections and
  // tells each of its end.
  start();
  auto tr2 = std::make_shared<fake_transport>(&sched.clock());
  auto conn2 = start_on(tr2);
  auto [shared, shared_log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, shared);
  caf::anon_send(conn2, subscribe_atom::value, shared);
  run();
  caf::anon_send_exit(shared, caf::exit_reason::kill);
  run();
  tr->receive({"a"});
  tr2->receive({"b"});
  run();
  auto [next1, log1] = make_recorder();
  auto [next2, log2] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, next1);
  caf::anon_send(conn2, subscribe_atom::value, next2);
  run();
  CHECK_LOG(*log1, "connected", "data:a");
  CHECK_LOG(*log2, "connected", "data:b");
  caf::anon_send_exit(conn2, caf::exit_reason::user_shutdown);
  run();
}

BOOST_AUTO_TEST_CASE(without_a_subscriber_reading_goes_on_until_the_window_is_held) {
  opts.receive_window = window_for(10, 3);
  start();
  tr->receive({"1234"});
  tr->receive({"56"});
  BOOST_CHECK(!tr->paused()); // 2 payloads, 6 bytes held: below the window
  tr->receive({"7890"});
  BOOST_CHECK(tr->paused()); // 3 payloads, 10 bytes held
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  BOOST_CHECK(!tr->paused());
  CHECK_LOG(*log, "connected", "data:1234", "data:56", "data:7890");
}

BOOST_AUTO_TEST_CASE(payloads_held_below_the_window_do_not_excuse_silence) {
  // The link still reads while it holds payloads for a subscriber to come:
  // a peer that then says nothing is stuck, as with any other link.
  start();
  tr->receive({"early"});
  run();
  BOOST_CHECK(!tr->paused());
  advance(opts.effective_heartbeat_timeout() - ns1);
  BOOST_CHECK(!tr->closed());
  advance(ns1);
  BOOST_CHECK(tr->closed());
  // And the connection ends with it: the held payloads do not hold its end
  // back (nobody came for them), so the handle is gone.
  auto s = ask<connection_stats>(conn, get_atom::value, stats_atom::value);
  BOOST_CHECK(!s);
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(closed_comes_after_the_last_payload_of_a_closing_link) {
  auto log = shut_down_while_the_link_holds_its_close();
  // The link delivers once more before its close takes effect.
  tr->receive({"late"});
  run();
  CHECK_LOG(*log, "connected", "data:late");
  tr->release();
  run();
  CHECK_LOG(*log, "connected", "data:late", "closed:shutting_down");
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(closed_is_announced_even_if_the_link_never_reports_its_end) {
  auto log = shut_down_while_the_link_holds_its_close();
  CHECK_LOG(*log, "connected");
  advance(1s);
  CHECK_LOG(*log, "connected", "closed:shutting_down");
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(peer_going_away_delivers_closed_and_no_reconnect) {
  start();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  tr->fail(make_error(error::connection_lost));
  run();
  CHECK_LOG(*log, "connected", "closed:connection_lost");
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(reading_paused_by_us_is_not_peer_silence) {
  opts.receive_window = window_for(4, 1);
  start();
  tr->receive({"12345"}); // over receive_window with nobody subscribed
  run();
  BOOST_CHECK(tr->paused());
  advance(opts.effective_heartbeat_timeout() * 3);
  BOOST_CHECK(!tr->closed());
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  BOOST_CHECK(!tr->paused());
  CHECK_LOG(*log, "connected", "data:12345");
  // Liveness counts again from the resume.
  advance(opts.effective_heartbeat_timeout() - ns1);
  BOOST_CHECK(!tr->closed());
  advance(ns1);
  BOOST_CHECK(tr->closed());
}

BOOST_AUTO_TEST_CASE(an_accepted_connection_is_one_actor_watching_its_own_link) {
  start();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  tr->receive({"hello"});
  run();
  BOOST_CHECK_EQUAL(spawned->size(), 1u);
  advance(opts.effective_heartbeat_timeout() - ns1);
  BOOST_CHECK(!tr->closed());
  BOOST_CHECK_EQUAL(spawned->size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_connection_ends_with_its_link_as_in_net_async) {
  start();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  caf::anon_send(conn, crash_atom::value);
  run();
  BOOST_CHECK(tr->closed());
  CHECK_LOG(*log, "connected", "closed:worker_failed");
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(frame_trickled_past_the_frame_timeout_ends_the_connection) {
  opts.frame_timeout = 3s;
  start();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  // A frame of 1000 bytes begins and never completes.
  tr->receive_bytes(fake_transport::frame_header(1000) + "x");
  run();
  for (int i = 0; i < 5; ++i) { // a byte every 500 ms keeps the link alive
    advance(500ms);
    tr->receive_bytes("x");
    run();
  }
  advance(500ms - ns1);
  BOOST_CHECK(!tr->closed());
  advance(ns1);
  BOOST_CHECK(tr->closed());
  CHECK_LOG(*log, "connected", "closed:frame_timeout");
  conn = nullptr;
}

// Demand (read_gate.hpp): a payload goes up only while it fits in the
// receive window beside what the subscribers have not processed; the one
// that does not waits in the link, which reads no further.
BOOST_AUTO_TEST_CASE(lagging_subscriber_stops_reading_past_the_receive_window) {
  opts.receive_window = window_for(10, 3);
  start();
  auto log = std::make_shared<std::vector<std::string>>();
  auto slow = sys.spawn(lagging_recorder, log);
  to_stop.push_back(slow);
  caf::anon_send(conn, subscribe_atom::value, slow);
  run();
  tr->receive({"1234", "5678"});
  run();
  BOOST_CHECK(!tr->paused()); // 2 payloads, 8 bytes behind: within the window
  tr->receive({"90"});
  run();
  BOOST_CHECK(!tr->paused()); // 3 payloads, 10 bytes: the window, just
  tr->receive({"x"});
  run();
  BOOST_CHECK(tr->paused()); // "x" would pass it: it waits in the link
  // Not reading is our doing: no stuck detection while paused.
  advance(opts.effective_heartbeat_timeout() * 3);
  BOOST_CHECK(!tr->closed());
  // The subscriber catches up: reading resumes, nothing was lost.
  caf::anon_send(slow, caf::atom("drain"));
  run();
  BOOST_CHECK(!tr->paused());
  CHECK_LOG(*log, "connected", "data:1234", "data:5678", "data:90", "data:x");
  // Liveness counts again from the resume.
  advance(opts.effective_heartbeat_timeout());
  BOOST_CHECK(tr->closed());
}

BOOST_AUTO_TEST_CASE(a_payload_counts_until_every_subscriber_processed_it) {
  opts.receive_window = window_for(8, 2);
  start();
  auto log = std::make_shared<std::vector<std::string>>();
  auto slow = sys.spawn(lagging_recorder, log);
  to_stop.push_back(slow);
  caf::anon_send(conn, subscribe_atom::value, slow);
  run();
  tr->receive({"aaaa", "bbbb", "c"});
  run();
  BOOST_CHECK(tr->paused());
  // A second, fast subscriber does not help: each payload is released only
  // when every subscriber has processed it.
  auto [fast, fast_log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, fast);
  run();
  BOOST_CHECK(tr->paused());
}

BOOST_AUTO_TEST_CASE(payloads_a_subscriber_keeps_as_messages_still_count) {
  // A lone subscriber's payload arrives in a mailbox element of its own; a
  // handler that takes the content out as a message (here a default
  // handler that keeps it) holds the credit for as long as that message
  // lives, not only until the handler returns.
  opts.receive_window = window_for(10, 3);
  start();
  auto kept = std::make_shared<std::vector<caf::message>>();
  auto keeper = sys.spawn([kept](caf::event_based_actor* self) {
    self->set_default_handler(
      [kept](caf::scheduled_actor*,
             caf::message_view& x) -> caf::result<caf::message> {
        kept->emplace_back(x.move_content_to_message());
        return caf::message{};
      });
    return caf::behavior{[](connected_atom, const connection&) {}};
  });
  to_stop.push_back(keeper);
  caf::anon_send(conn, subscribe_atom::value, keeper);
  run();
  tr->receive({"1234", "5678", "90"});
  run();
  BOOST_REQUIRE_EQUAL(kept->size(), 3u);
  BOOST_CHECK(!tr->paused());
  tr->receive({"x"});
  run();
  BOOST_CHECK_EQUAL(kept->size(), 3u);
  BOOST_CHECK(tr->paused()); // every handler returned, 3 payloads still kept
  kept->clear();
  run();
  BOOST_CHECK(!tr->paused());
  BOOST_CHECK_EQUAL(kept->size(), 1u); // "x"
}

// A server connection holds the replies to what it read beside its
// outbound buffer: a payload goes up only while one more message fits in
// max-outbound-messages with the buffered ones.
BOOST_AUTO_TEST_CASE(a_peer_that_reads_nothing_we_send_is_not_read_from) {
  opts.max_outbound_messages = 8;
  tr->auto_complete = false;      // the peer reads nothing of ours
  start();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i)
      caf::anon_send(conn, bytes{'x'});
    run();
  };
  send(7);
  tr->receive({"a"});
  run();
  BOOST_CHECK(!tr->paused()); // 7 buffered and "a": 8
  send(1);
  tr->receive({"b"});
  run();
  BOOST_CHECK(tr->paused()); // 8 buffered: "b" waits in the link
  // Not reading is our doing: the peer is not dropped for it.
  advance(opts.effective_heartbeat_timeout() * 3);
  BOOST_CHECK(!tr->closed());
  tr->complete_writes(); // the peer reads what we sent
  run();
  BOOST_CHECK(!tr->paused());
  tr->receive({"c"});
  run();
  CHECK_LOG(*log, "connected", "data:a", "data:b", "data:c");
}

// The rule that makes an echo server lossless: what was read and the sends
// on their way through the connection's mailbox count with its outbound
// buffer, so that every reply to a payload it took finds room.
BOOST_AUTO_TEST_CASE(an_echo_of_every_payload_taken_finds_room_in_the_buffer) {
  opts.max_outbound_messages = 4;
  tr->auto_complete = false; // nothing is written until the test says
  start();
  auto echo = spawn_echo();
  caf::anon_send(conn, subscribe_atom::value, echo);
  run();
  tr->receive({"1", "2", "3", "4", "5", "6"});
  run();
  BOOST_CHECK(tr->paused()); // 4 taken and echoed; "5" and "6" wait
  BOOST_CHECK_EQUAL(stats().rejected, 0u);
  BOOST_CHECK_EQUAL(stats().buffered_messages, 4u);
  tr->complete_writes();
  run();
  tr->complete_writes();
  run();
  BOOST_CHECK(!tr->paused());
  BOOST_CHECK_EQUAL(stats().rejected, 0u);
  CHECK_LOG(tr->written, "1", "2", "3", "4", "5", "6");
}

// Found in review: a payload waiting for room that its connection's
// unwritten replies take, when the peer resets the link. Those replies can
// never be written, so the room never came: the last payload was never
// delivered and the link's end never reported (the connection lived on).
BOOST_AUTO_TEST_CASE(a_peer_that_resets_while_a_payload_waits_for_room_still_ends_the_connection) {
  opts.max_outbound_messages = 4;
  tr->auto_complete = false; // nothing is written
  start();
  auto echo = spawn_echo();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, echo);
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  tr->receive({"1", "2", "3", "4", "5"});
  run();
  BOOST_REQUIRE(tr->paused()); // "5" waits
  tr->fail(make_error(error::connection_lost));
  run();
  CHECK_LOG(*log, "connected", "data:1", "data:2", "data:3", "data:4",
            "data:5", "closed:connection_lost");
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(silent_peer_is_dropped_with_closed) {
  start();
  auto [sub, log] = make_recorder();
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  advance(opts.effective_heartbeat_timeout());
  CHECK_LOG(*log, "connected", "closed:heartbeat_timeout");
  conn = nullptr;
}

BOOST_AUTO_TEST_SUITE_END()
