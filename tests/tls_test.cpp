// tls:// links on 127.0.0.1: handshakes that succeed, every way one fails
// (each a clear status, the listener serving its other clients), and bad
// TLS settings refused before anything starts. Certificates come from
// tests/tls/make_test_certs.sh (CTest's make_test_certs fixture); the
// directory is NETASYNC_TEST_TLS_CERTS. Every wait is bounded.

#define BOOST_TEST_MODULE tls
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "netasync/all.hpp"
#include "support/echo_service.hpp"
#include "support/raw_socket.hpp"
#include "support/status_wait.hpp"
#include "support/test_tls.hpp"
#include "support/test_util.hpp"

using namespace netasync;
using namespace netasync::test;
using namespace std::chrono_literals;

namespace {

std::string cert(const std::string& name) {
  auto dir = tls_cert_dir();
  if (dir.empty())
    BOOST_FAIL("NETASYNC_TEST_TLS_CERTS is not set (run through ctest)");
  return dir + "/" + name;
}

/// Precondition: this machine has [::1] (a skip, reported, where not).
boost::test_tools::assertion_result ipv6_loopback(boost::unit_test::test_unit_id) {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = fd >= 0
            && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
                 == 0;
  if (fd >= 0)
    ::close(fd);
  boost::test_tools::assertion_result r{ok};
  r.message() << "no IPv6 loopback ([::1]) on this machine";
  return r;
}

/// A status with its full text: "disconnected:tls_handshake_failed" and
/// describe(err).
struct status {
  std::string code;
  std::string text;
};

struct tls_fixture {
  system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  caf::actor echo;
  options server_opts;
  options client_opts;

  tls_fixture() {
    echo = sys.spawn(echo_service);
    for (auto* o : {&server_opts, &client_opts}) {
      o->heartbeat_period = 200ms;
      o->reconnect_period = 100ms;
      o->connect_timeout = 2s;
    }
    server_opts.tls.cert_file = cert("server.pem");
    server_opts.tls.key_file = cert("server.key");
    client_opts.tls.ca_file = cert("ca.pem");
  }

  ~tls_fixture() {
    caf::anon_send_exit(echo, caf::exit_reason::kill);
  }

  /// server_opts asking for client certificates per `policy`, verified
  /// against the test CA.
  options asking_client_certs(client_cert_policy policy) {
    auto s = server_opts;
    s.tls.client_cert = policy;
    s.tls.ca_file = cert("ca.pem");
    return s;
  }

  /// A TLS echo server on a free port; returns the port.
  /// The last acceptor serve() made.
  acceptor last_acceptor;

  uint16_t serve(const options& o) {
    auto acc = accept(sys, "tls://127.0.0.1:0", o, {echo});
    if (!acc)
      BOOST_FAIL("accept failed: " + describe(acc.error()));
    last_acceptor = *acc;
    auto port = bound_port(sys, *acc);
    BOOST_REQUIRE(port);
    return *port;
  }

  uint16_t serve() {
    return serve(server_opts);
  }

  connection dial(const std::string& url, const options& o) {
    auto conn = connect(sys, url, o, {caf::actor_cast<caf::actor>(self)});
    if (!conn)
      BOOST_FAIL("connect failed: " + describe(conn.error()));
    return *conn;
  }

  connection dial(uint16_t port, const options& o) {
    return dial("tls://127.0.0.1:" + std::to_string(port), o);
  }

  connection dial(uint16_t port) {
    return dial(port, client_opts);
  }

  /// The next status of `conn`, with the error's text; payloads skipped.
  status next_status(const connection& conn, caf::timespan within = 10s) {
    status result;
    auto deadline = std::chrono::steady_clock::now() + within;
    while (result.code.empty()) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= decltype(left){0})
        return {"timeout", ""};
      self->receive(
        [&](connected_atom, const connection& c) {
          if (c == conn)
            result = {"connected", ""};
        },
        [&](disconnected_atom, const connection& c, const caf::error& err) {
          if (c == conn)
            result = {"disconnected:" + code_name(err), describe(err)};
        },
        [&](closed_atom, const connection& c, const caf::error& err) {
          if (c == conn)
            result = {"closed:" + code_name(err), describe(err)};
        },
        [&](const connection&, const bytes&) {},
        caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left))
          >> [&] { result = {"timeout", ""}; });
    }
    return result;
  }

  /// Sends one payload and waits for its echo.
  bool echoes(const connection& conn, const std::string& text = "ping") {
    self->send(conn, bytes(text.begin(), text.end()));
    bool ok = false;
    self->receive(
      [&](const connection& c, const bytes& payload) {
        ok = c == conn && std::string(payload.begin(), payload.end()) == text;
      },
      caf::after(std::chrono::seconds(10)) >> [] {});
    return ok;
  }

  /// A client that fails its handshake sees tls_handshake_failed whose text
  /// contains `reason`, and keeps retrying: the next status is the same.
  void check_refused(const connection& conn, const std::string& reason) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto st = next_status(conn);
      BOOST_CHECK_EQUAL(st.code, "disconnected:tls_handshake_failed");
      BOOST_CHECK_MESSAGE(st.text.find(reason) != std::string::npos,
                          "'" << st.text << "' lacks '" << reason << "'");
    }
    self->send(conn, close_atom::value);
  }

  /// What accept() on tls:// returns at once for `o`: the error's code name
  /// ("none" if it listened) and its text.
  status listen_error(const options& o) {
    auto acc = accept(sys, "tls://127.0.0.1:0", o, {});
    if (acc)
      return {"none", ""};
    return {code_name(acc.error()), describe(acc.error())};
  }

  /// A client with default settings still gets its echo from `port`.
  void check_still_serving(uint16_t port) {
    auto good = dial(port);
    BOOST_REQUIRE_EQUAL(next_status(good).code, "connected");
    BOOST_CHECK(echoes(good));
    self->send(good, close_atom::value);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(tls, tls_fixture)

BOOST_AUTO_TEST_CASE(handshake_ok_and_messages_echo_over_tls) {
  auto conn = dial(serve());
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn, "hello over tls"));
  self->send(conn, close_atom::value);
  BOOST_CHECK_EQUAL(next_status(conn).code, "closed:none");
}

// (The SNI it sends is seen by Python's ssl server: tls_programs_test.sh.)
BOOST_AUTO_TEST_CASE(a_host_name_is_verified) {
  auto port = serve();
  auto conn = dial("tls://localhost:" + std::to_string(port), client_opts);
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(ipv6_literal_in_brackets_is_verified_against_its_ip,
                     *boost::unit_test::precondition(ipv6_loopback)) {
  auto acc = accept(sys, "tls://[::1]:0", server_opts, {echo});
  if (!acc)
    BOOST_FAIL("accept on [::1]: " + describe(acc.error()));
  auto port = bound_port(sys, *acc);
  BOOST_REQUIRE(port);
  auto conn = dial("tls://[::1]:" + std::to_string(*port), client_opts);
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(wrong_host_name_is_refused_with_hostname_mismatch) {
  auto o = client_opts;
  o.tls.server_name = "example.com";
  check_refused(dial(serve(), o), "hostname mismatch");
}

BOOST_AUTO_TEST_CASE(an_ip_literal_is_verified_against_the_certificates_ips) {
  // name-only.pem names localhost but no address: dialing 127.0.0.1 must
  // fail even though the chain is good.
  auto s = server_opts;
  s.tls.cert_file = cert("name-only.pem");
  s.tls.key_file = cert("name-only.key");
  auto port = serve(s);
  check_refused(dial(port), "IP address mismatch");
  auto conn = dial("tls://localhost:" + std::to_string(port), client_opts);
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(server_name_option_verifies_a_name_when_dialing_an_ip) {
  auto o = client_opts;
  o.tls.server_name = "localhost";
  auto conn = dial(serve(), o);
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(unknown_ca_is_refused_and_the_server_serves_others) {
  auto port = serve();
  auto o = client_opts;
  o.tls.ca_file = cert("other-ca.pem");
  check_refused(dial(port, o), "certificate verify failed");
  check_still_serving(port);
}

BOOST_AUTO_TEST_CASE(expired_certificate_is_refused_as_expired) {
  auto o = server_opts;
  o.tls.cert_file = cert("expired.pem");
  o.tls.key_file = cert("expired.key");
  check_refused(dial(serve(o)), "certificate has expired");
}

BOOST_AUTO_TEST_CASE(verification_can_be_turned_off_for_a_self_signed_peer) {
  auto o = client_opts;
  o.tls.ca_file = cert("other-ca.pem");
  o.tls.verify_peer = false;
  auto conn = dial(serve(), o);
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(mutual_tls_serves_a_client_with_a_certificate) {
  auto s = asking_client_certs(client_cert_policy::required);
  auto c = client_opts;
  c.tls.cert_file = cert("client.pem");
  c.tls.key_file = cert("client.key");
  auto conn = dial(serve(s), c);
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(required_client_certificate_missing_is_refused) {
  auto s = asking_client_certs(client_cert_policy::required);
  auto port = serve(s);
  auto conn = dial(port);
  // TLS 1.3: the client may see its handshake complete before the server's
  // refusal arrives; either way the link never carries a message.
  auto st = next_status(conn);
  if (st.code == "connected")
    st = next_status(conn);
  BOOST_CHECK_EQUAL(st.code, "disconnected:tls_handshake_failed");
  BOOST_CHECK_MESSAGE(st.text.find("certificate required") != std::string::npos,
                      st.text);
  self->send(conn, close_atom::value);
}

BOOST_AUTO_TEST_CASE(optional_client_certificate_from_an_unknown_ca_is_refused) {
  auto s = asking_client_certs(client_cert_policy::optional);
  auto c = client_opts;
  c.tls.cert_file = cert("other-client.pem");
  c.tls.key_file = cert("other-client.key");
  auto port = serve(s);
  auto conn = dial(port, c);
  auto st = next_status(conn);
  if (st.code == "connected") // TLS 1.3: the refusal comes on the first read
    st = next_status(conn);
  BOOST_CHECK_EQUAL(st.code, "disconnected:tls_handshake_failed");
  self->send(conn, close_atom::value);
  check_still_serving(port);
}

BOOST_AUTO_TEST_CASE(optional_client_certificate_serves_a_client_without_one) {
  auto s = asking_client_certs(client_cert_policy::optional);
  auto conn = dial(serve(s));
  BOOST_REQUIRE_EQUAL(next_status(conn).code, "connected");
  BOOST_CHECK(echoes(conn));
}

BOOST_AUTO_TEST_CASE(tls_client_against_a_plain_listener_is_a_clear_error) {
  auto plain = accept(sys, "tcp://127.0.0.1:0", server_opts, {echo});
  BOOST_REQUIRE(plain);
  auto port = bound_port(sys, *plain);
  BOOST_REQUIRE(port);
  auto conn = dial(*port);
  auto st = next_status(conn);
  BOOST_CHECK_EQUAL(st.code, "disconnected:tls_handshake_failed");
  BOOST_TEST_MESSAGE("tls client vs plain listener: " << st.text);
  self->send(conn, close_atom::value);
  // The plain listener goes on serving plain clients.
  auto ok = connect(sys, "tcp://127.0.0.1:" + std::to_string(*port),
                    client_opts, {caf::actor_cast<caf::actor>(self)});
  BOOST_REQUIRE(ok);
  BOOST_REQUIRE_EQUAL(next_status(*ok).code, "connected");
  BOOST_CHECK(echoes(*ok));
}

BOOST_AUTO_TEST_CASE(plain_client_against_a_tls_listener_is_dropped) {
  auto port = serve();
  auto o = client_opts;
  o.heartbeat_timeout = caf::timespan{30s}; // the drop, not stuck detection
  auto conn = dial("tcp://127.0.0.1:" + std::to_string(port), o);
  // TCP connects; the listener's handshake fails on the first plain frame
  // and closes the socket before a link exists.
  self->send(conn, bytes{'h', 'i'});
  auto st = next_status(conn);
  if (st.code == "connected")
    st = next_status(conn);
  BOOST_CHECK_EQUAL(st.code, "disconnected:connection_lost");
  self->send(conn, close_atom::value);
  check_still_serving(port);
}

BOOST_AUTO_TEST_CASE(garbage_instead_of_a_client_hello_is_reset) {
  auto port = serve();
  auto raw = raw_socket::connect_to(port);
  std::vector<uint8_t> garbage(512);
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<uint8_t>(i * 37 + 11);
  raw.send_all(garbage);
  BOOST_CHECK(raw.peer_closed_within(5000ms));
  check_still_serving(port);
}

BOOST_AUTO_TEST_CASE(the_acceptor_counts_failed_handshakes) {
  auto port = serve();
  auto raw = raw_socket::connect_to(port);
  raw.send_all(std::vector<uint8_t>(64, 0x42));
  BOOST_REQUIRE(raw.peer_closed_within(5000ms));
  check_still_serving(port);
  acceptor_stats st;
  self->request(last_acceptor, 5s, get_atom::value, stats_atom::value)
    .receive([&](acceptor_stats& x) { st = x; }, [](caf::error&) {});
  BOOST_CHECK_EQUAL(st.handshake_failures, 1u);
  BOOST_CHECK_EQUAL(st.accepted, 1u); // the good client of check_still_serving
}

BOOST_AUTO_TEST_CASE(peer_stalling_mid_handshake_is_dropped_at_the_timeout) {
  auto s = server_opts;
  s.tls.handshake_timeout = 300ms;
  auto port = serve(s);
  auto raw = raw_socket::connect_to(port);
  // The first bytes of a TLS record header, then silence.
  raw.send_all({0x16, 0x03, 0x01});
  auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK(raw.peer_closed_within(5000ms));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_CHECK(elapsed >= 250ms);
  check_still_serving(port);
}

BOOST_AUTO_TEST_CASE(silent_connections_past_max_handshakes_do_not_lock_out_a_client) {
  auto s = server_opts;
  s.tls.max_handshakes = 4;
  s.tls.handshake_timeout = 60s; // only eviction can end the silent ones
  auto port = serve(s);
  std::vector<raw_socket> silent;
  for (int i = 0; i < 4; ++i)
    silent.push_back(raw_socket::connect_to(port));
  // A real client past the bound is served: the oldest silent one goes.
  check_still_serving(port);
  BOOST_CHECK(silent.front().peer_closed_within(5000ms));
  BOOST_CHECK(!silent.back().peer_closed_within(100ms));
}

BOOST_AUTO_TEST_CASE(silent_server_fails_the_client_handshake_within_connect_timeout) {
  auto listener = raw_socket::listen_on(0, 8);
  auto o = client_opts;
  o.connect_timeout = 400ms;
  auto t0 = std::chrono::steady_clock::now();
  auto conn = dial(listener.local_port(), o);
  auto st = next_status(conn);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_CHECK_EQUAL(st.code, "disconnected:tls_handshake_failed");
  BOOST_CHECK_MESSAGE(st.text.find("timed out") != std::string::npos, st.text);
  BOOST_CHECK(elapsed >= 350ms);
  BOOST_CHECK(elapsed < 5s);
  self->send(conn, close_atom::value);
}

BOOST_AUTO_TEST_CASE(listener_without_a_certificate_is_refused_at_once) {
  BOOST_CHECK_EQUAL(listen_error(client_opts).code, "tls_config_invalid");
}

BOOST_AUTO_TEST_CASE(unreadable_files_are_refused_naming_the_file) {
  auto s = server_opts;
  s.tls.cert_file = cert("no-such-file.pem");
  auto err = listen_error(s);
  BOOST_CHECK_EQUAL(err.code, "tls_config_invalid");
  BOOST_CHECK(err.text.find("no-such-file.pem") != std::string::npos);
  auto c = client_opts;
  c.tls.ca_file = cert("no-such-ca.pem");
  auto conn = connect(sys, "tls://127.0.0.1:1", c);
  BOOST_REQUIRE(!conn);
  BOOST_CHECK_EQUAL(code_name(conn.error()), "tls_config_invalid");
}

BOOST_AUTO_TEST_CASE(key_not_matching_its_certificate_is_refused) {
  auto s = server_opts;
  s.tls.key_file = cert("client.key");
  BOOST_CHECK_EQUAL(listen_error(s).code, "tls_config_invalid");
}

BOOST_AUTO_TEST_CASE(non_positive_handshake_timeout_is_an_invalid_argument) {
  auto s = server_opts;
  s.tls.handshake_timeout = caf::timespan{0};
  BOOST_CHECK_EQUAL(listen_error(s).code, "invalid_argument");
}

BOOST_AUTO_TEST_CASE(client_certificate_policy_needs_a_ca) {
  auto s = server_opts;
  s.tls.client_cert = client_cert_policy::required;
  BOOST_CHECK_EQUAL(listen_error(s).code, "tls_config_invalid");
}

BOOST_AUTO_TEST_SUITE_END()
