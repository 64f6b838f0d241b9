// Sessions over real sockets on 127.0.0.1, through the fault proxy where a
// link must die: the handle that survives, exactly-once delivery across
// resets, refusals between session and plain peers, expiry after a server
// restart, calls end to end and the acceptor's drain. CTest runs it over
// tcp:// and ws:// (and tls://, wss:// with the certificates); every wait
// is bounded.

#define BOOST_TEST_MODULE session_loopback
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/all.hpp"
#include "support/echo_service.hpp"
#include "support/fault_proxy.hpp"
#include "support/status_wait.hpp"
#include "support/test_tls.hpp"
#include "support/test_util.hpp"

using namespace netasync;
using namespace netasync::test;
using namespace std::chrono_literals;

namespace {

bytes to_bytes(const std::string& x) {
  return bytes(x.begin(), x.end());
}

std::string str(const bytes& x) {
  return std::string(x.begin(), x.end());
}

// The server side of a test: hands every accepted connection's events to
// the test thread (`sink`) and answers calls: "slow:<ms>" after that long,
// "fail" with an error, anything else reversed.
struct service_state {
  caf::actor sink;
  int calls = 0;
  std::map<uint64_t, caf::response_promise> slow;
  uint64_t next_slow = 0;
};

using slow_atom = caf::atom_constant<caf::atom("slow")>;

caf::behavior service(caf::stateful_actor<service_state>* self,
                      caf::actor sink) {
  self->state.sink = sink;
  return {
    [=](accepted_atom, const acceptor& acc, const connection& conn) {
      self->send(conn, subscribe_atom::value, caf::actor{self});
      self->send(self->state.sink, accepted_atom::value, acc, conn);
    },
    [=](const connection& conn, bytes& payload) {
      self->send(self->state.sink, conn, std::move(payload));
    },
    [=](connected_atom a, const connection& c) {
      self->send(self->state.sink, a, c);
    },
    [=](disconnected_atom a, const connection& c, const caf::error& e) {
      self->send(self->state.sink, a, c, e);
    },
    [=](closed_atom a, const connection& c, const caf::error& e) {
      self->send(self->state.sink, a, c, e);
    },
    [=](closed_atom, const acceptor&, const caf::error&) {},
    [=](call_atom, const connection&, const bytes& x) -> caf::result<bytes> {
      ++self->state.calls;
      auto s = str(x);
      if (s == "fail")
        return make_error(error::invalid_argument, "no such key");
      if (s.rfind("slow:", 0) == 0) {
        // The test learns that the call reached its handler.
        self->send(self->state.sink, call_atom::value, s);
        auto id = self->state.next_slow++;
        self->state.slow.emplace(id, self->make_response_promise());
        self->delayed_send(self,
                           std::chrono::milliseconds(std::stoi(s.substr(5))),
                           slow_atom::value, id);
        return caf::delegated<bytes>{};
      }
      return bytes(s.rbegin(), s.rend());
    },
    [=](slow_atom, uint64_t id) {
      auto i = self->state.slow.find(id);
      i->second.deliver(to_bytes("done"));
      self->state.slow.erase(i);
    },
    [=](get_atom) { return self->state.calls; },
  };
}

struct fixture {
  system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  options opts;
  std::vector<caf::actor> spawned;

  fixture() {
    opts.heartbeat_period = 200ms;
    opts.reconnect_period = 100ms;
    opts.connect_timeout = 2s;
    opts.session = true;
  }

  ~fixture() {
    for (auto& x : spawned)
      caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  caf::actor spawn_service() {
    auto s = sys.spawn(service, caf::actor_cast<caf::actor>(self));
    spawned.push_back(s);
    return s;
  }

  acceptor listen(const options& o, caf::actor sub, uint16_t port = 0) {
    auto acc = accept(sys, link_url("127.0.0.1", port), with_link_settings(o),
                      {sub});
    if (!acc)
      BOOST_FAIL("accept failed: " + describe(acc.error()));
    return *acc;
  }

  uint16_t port_of(const acceptor& acc) {
    auto p = bound_port(sys, acc);
    BOOST_REQUIRE(p);
    return *p;
  }

  connection dial(uint16_t port, const options& o) {
    auto c = connect(sys, link_url("127.0.0.1", port), with_link_settings(o),
                     {caf::actor_cast<caf::actor>(self)});
    BOOST_REQUIRE(c);
    return *c;
  }

  std::string next_status(const connection& conn, caf::timespan within = 10s) {
    return next_status_of(self, conn, within);
  }

  /// The server's connection, as its service reports it.
  connection accepted_conn(caf::timespan within = 10s) {
    connection result;
    self->receive(
      [&](accepted_atom, const acceptor&, const connection& c) { result = c; },
      caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(within))
        >> [] {});
    BOOST_REQUIRE(result);
    return result;
  }

  /// Waits (at most 10 s) until the service's handler has a slow call.
  bool call_reached_its_handler() {
    bool reached = false;
    self->receive([&](call_atom, const std::string&) { reached = true; },
                  caf::after(std::chrono::seconds(10)) >> [] {});
    return reached;
  }

  std::string call(const connection& conn, const std::string& x,
                   caf::timespan within = 10s) {
    std::string got;
    self->request(conn, within, call_atom::value, to_bytes(x))
      .receive([&](bytes& r) { got = str(r); },
               [&](caf::error& err) { got = describe(err); });
    return got;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(session_loopback, fixture)

BOOST_AUTO_TEST_CASE(messages_cross_link_resets_once_in_order_on_one_server_handle) {
  auto svc = spawn_service();
  auto acc = listen(opts, svc);
  fault_proxy proxy{port_of(acc)};
  auto conn = dial(proxy.port(), opts);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  auto server_conn = accepted_conn();
  constexpr int n = 3000;
  int resets = 0;
  for (int i = 0; i < n; ++i) {
    self->send(conn, to_bytes(std::to_string(i)));
    if (i % 1000 == 500) {
      resets += static_cast<int>(proxy.reset_all());
    }
  }
  // Every number arrives once, in order, on the one server connection; its
  // statuses show the resumes (disconnected, connected), never a new one.
  int next = 0;
  int accepted_again = 0;
  int server_connected = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (next < n && std::chrono::steady_clock::now() < deadline) {
    self->receive(
      [&](const connection& c, const bytes& x) {
        BOOST_REQUIRE(c == server_conn);
        BOOST_REQUIRE_EQUAL(str(x), std::to_string(next));
        ++next;
      },
      [&](accepted_atom, const acceptor&, const connection&) {
        ++accepted_again;
      },
      [&](connected_atom, const connection& c) {
        if (c == server_conn)
          ++server_connected;
      },
      [&](disconnected_atom, const connection&, const caf::error&) {},
      caf::after(std::chrono::seconds(1)) >> [] {});
  }
  BOOST_CHECK_EQUAL(next, n);
  BOOST_CHECK_EQUAL(accepted_again, 0);
  BOOST_CHECK_GE(resets, 1);
  connection_stats st;
  self->request(conn, 5s, get_atom::value, stats_atom::value)
    .receive([&](connection_stats& s) { st = s; }, [](caf::error&) {});
  BOOST_CHECK_GE(st.resumes, 1u);
  self->send(conn, close_atom::value);
  BOOST_CHECK_EQUAL(next_status(conn), "closed:none");
}

// Issue 19: with sessions, an echo server's replies stay in its buffer until
// the client acknowledges them. A client that pipelined more than that
// buffer got most of its echoes refused, and then waited forever for them.
// Now the server holds back what does not fit and reads on for the ACKs:
// 1,000 messages of 1 B to 64 KiB and 8 of 1 MiB (about 40 MB), all sent at
// once, all echoed in order, none refused.
BOOST_AUTO_TEST_CASE(an_echo_server_loses_nothing_however_much_a_session_client_pipelines) {
  auto echo = sys.spawn(echo_service);
  spawned.push_back(echo);
  auto acc = listen(opts, echo); // the server: default bounds
  auto o = opts;
  o.max_outbound_bytes = 64 * 1024 * 1024;
  o.max_outbound_messages = 4096;
  auto conn = dial(port_of(acc), o);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  auto sizes = pipelined_echo_sizes();
  auto total = std::accumulate(sizes.begin(), sizes.end(), size_t{0});
  BOOST_REQUIRE_GE(total, size_t{32} * 1000 * 1000);
  for (size_t i = 0; i < sizes.size(); ++i)
    self->send(conn, make_payload(i, sizes[i]));
  size_t echoed = 0;
  size_t mismatched = 0;
  bool timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (echoed + mismatched < sizes.size() && !timed_out) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    self->receive(
      [&](const connection&, const bytes& x) {
        auto i = echoed + mismatched;
        if (x == make_payload(i, sizes[i]))
          ++echoed;
        else
          ++mismatched;
      },
      caf::after(std::max(left, std::chrono::milliseconds{1}))
        >> [&] { timed_out = true; });
  }
  BOOST_TEST_MESSAGE(echoed << " of " << sizes.size() << " echoed, " << total
                            << " bytes each way");
  BOOST_CHECK_EQUAL(echoed, sizes.size());
  BOOST_CHECK_EQUAL(mismatched, 0u);
  acceptor_stats st;
  self->request(acc, 5s, get_atom::value, stats_atom::value)
    .receive([&](acceptor_stats& x) { st = x; },
             [](caf::error& err) { BOOST_FAIL("stats: " + describe(err)); });
  BOOST_CHECK_EQUAL(st.sends_lost, 0u);
  self->send(conn, close_atom::value);
  BOOST_CHECK_EQUAL(next_status(conn), "closed:none");
}

BOOST_AUTO_TEST_CASE(a_session_client_meeting_a_plain_server_is_refused) {
  auto echo = sys.spawn(echo_service);
  spawned.push_back(echo);
  auto plain = opts;
  plain.session = false;
  auto acc = listen(plain, echo);
  auto conn = dial(port_of(acc), opts);
  BOOST_CHECK_EQUAL(next_status(conn), "closed:session_refused");
}

BOOST_AUTO_TEST_CASE(a_plain_client_meeting_a_session_server_gets_no_handshake) {
  auto svc = spawn_service();
  auto acc = listen(opts, svc);
  auto plain = opts;
  plain.session = false;
  auto conn = dial(port_of(acc), plain);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  self->send(conn, to_bytes("hello"));
  // The server closes the link without a word: no session frame reaches
  // the plain client as a payload, and no connection is handed out.
  bool payload = false;
  bool accepted = false;
  std::string status;
  self->receive_while([&] { return status.empty(); })(
    [&](const connection&, const bytes&) { payload = true; },
    [&](accepted_atom, const acceptor&, const connection&) { accepted = true; },
    [&](disconnected_atom, const connection&, const caf::error& e) {
      status = "disconnected:" + code_name(e);
    },
    caf::after(std::chrono::seconds(10)) >> [&] { status = "timeout"; });
  BOOST_CHECK_EQUAL(status, "disconnected:connection_lost");
  BOOST_CHECK(!payload);
  BOOST_CHECK(!accepted);
  acceptor_stats st;
  self->request(acc, 5s, get_atom::value, stats_atom::value)
    .receive([&](acceptor_stats& s) { st = s; }, [](caf::error&) {});
  BOOST_CHECK_GE(st.handshake_failures, 1u);
  self->send(conn, close_atom::value);
}

BOOST_AUTO_TEST_CASE(after_a_server_restart_the_client_learns_session_expired) {
  auto svc = spawn_service();
  auto acc = listen(opts, svc);
  auto port = port_of(acc);
  auto conn = dial(port, opts);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  auto server_conn = accepted_conn();
  // "Restart": the acceptor and its session go away at once (no CLOSE),
  // and a new acceptor listens on the same port knowing no session. The
  // acceptor's closed comes once its port is free.
  self->send(acc, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  self->send(acc, close_atom::value);
  self->send_exit(server_conn, caf::exit_reason::kill);
  bool acc_closed = false;
  self->receive_while([&] { return !acc_closed; })(
    [&](closed_atom, const acceptor& a, const caf::error&) {
      acc_closed = a == acc;
    },
    caf::after(std::chrono::seconds(10)) >> [&] { acc_closed = true; });
  auto svc2 = spawn_service();
  std::optional<acceptor> acc2;
  if (auto a = accept(sys, link_url("127.0.0.1", port),
                      with_link_settings(opts), {svc2}))
    acc2 = *a;
  BOOST_REQUIRE(acc2);
  std::string status;
  for (int i = 0; i < 5 && status.rfind("closed", 0) != 0; ++i)
    status = next_status(conn);
  BOOST_CHECK_EQUAL(status, "closed:session_expired");
}

BOOST_AUTO_TEST_CASE(calls_are_answered_and_errors_come_back) {
  auto svc = spawn_service();
  auto acc = listen(opts, svc);
  auto conn = dial(port_of(acc), opts);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  BOOST_CHECK_EQUAL(call(conn, "abc"), "cba");
  auto err = call(conn, "fail");
  BOOST_CHECK(err.rfind("netasync::call_failed", 0) == 0);
  BOOST_CHECK(err.find("no such key") != std::string::npos);
  // Many calls in flight at once: each answered, each its own.
  using handle = decltype(self->request(conn, 10s, call_atom::value, bytes{}));
  std::vector<handle> handles;
  for (int i = 0; i < 64; ++i)
    handles.push_back(self->request(conn, 10s, call_atom::value,
                                    to_bytes("k" + std::to_string(i))));
  int ok = 0;
  for (int i = 0; i < 64; ++i)
    handles[i].receive(
      [&, i](bytes& r) {
        auto want = "k" + std::to_string(i);
        ok += str(r) == std::string(want.rbegin(), want.rend());
      },
      [](caf::error&) {});
  BOOST_CHECK_EQUAL(ok, 64);
}

BOOST_AUTO_TEST_CASE(a_call_in_flight_at_a_reset_is_answered_once) {
  auto svc = spawn_service();
  auto acc = listen(opts, svc);
  fault_proxy proxy{port_of(acc)};
  auto conn = dial(proxy.port(), opts);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  auto rh = self->request(conn, 10s, call_atom::value, to_bytes("slow:300"));
  BOOST_REQUIRE(call_reached_its_handler());
  proxy.reset_all();
  std::string got;
  rh.receive([&](bytes& r) { got = str(r); },
             [&](caf::error& e) { got = describe(e); });
  BOOST_CHECK_EQUAL(got, "done");
  // The handler ran once: the resent call was a duplicate.
  int calls = -1;
  self->request(svc, 5s, get_atom::value)
    .receive([&](int n) { calls = n; }, [](caf::error&) {});
  BOOST_CHECK_EQUAL(calls, 1);
}

BOOST_AUTO_TEST_CASE(drain_answers_calls_in_flight_then_closes_with_draining) {
  auto svc = spawn_service();
  auto acc = listen(opts, svc);
  auto conn = dial(port_of(acc), opts);
  BOOST_REQUIRE_EQUAL(next_status(conn), "connected");
  accepted_conn();
  using handle = decltype(self->request(conn, 10s, call_atom::value, bytes{}));
  std::vector<handle> handles;
  for (int i = 0; i < 3; ++i)
    handles.push_back(self->request(conn, 10s, call_atom::value,
                                    to_bytes("slow:300")));
  for (int i = 0; i < 3; ++i)
    BOOST_REQUIRE(call_reached_its_handler());
  drain_report r;
  self->request(acc, 10s, drain_atom::value, caf::timespan{5s})
    .receive([&](drain_report& x) { r = x; },
             [&](caf::error& e) { BOOST_FAIL("drain: " + describe(e)); });
  BOOST_CHECK_EQUAL(r.connections_closed, 1u);
  BOOST_CHECK_EQUAL(r.calls_completed, 3u);
  BOOST_CHECK_EQUAL(r.calls_abandoned, 0u);
  BOOST_CHECK_EQUAL(r.messages_dropped, 0u);
  // The client got its answers, then closed(draining).
  std::vector<std::string> answers;
  for (auto& h : handles)
    h.receive([&](bytes& x) { answers.push_back(str(x)); },
              [&](caf::error& e) { answers.push_back(describe(e)); });
  BOOST_CHECK_EQUAL(answers.size(), 3u);
  for (auto& a : answers)
    BOOST_CHECK_EQUAL(a, "done");
  std::string status;
  self->receive_while([&] { return status.empty(); })(
    [&](closed_atom, const connection&, const caf::error& e) {
      status = "closed:" + code_name(e);
    },
    [&](closed_atom, const acceptor&, const caf::error&) {},
    [&](disconnected_atom, const connection&, const caf::error&) {},
    [&](const connection&, const bytes&) {},
    caf::after(std::chrono::seconds(10)) >> [&] { status = "timeout"; });
  BOOST_CHECK_EQUAL(status, "closed:draining");
}

BOOST_AUTO_TEST_SUITE_END()
