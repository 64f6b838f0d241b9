// The HTTP client actor (netasync/http_client.hpp) as an application uses
// it: requests from actors, answered by responses or error values, and the
// pool's rules, against this library's own http:// server (independent
// servers: tests/http/http_client_test.py). The server's handler records
// each request's peer port, so the tests count connections from the
// server's side too.

#define BOOST_TEST_MODULE http_client_test
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "netasync/all.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::response_promise)

using namespace netasync;
using namespace std::chrono_literals;

namespace {

http_request get_of(std::string url) {
  http_request r;
  r.method = "GET";
  r.target = std::move(url);
  return r;
}

struct fixture {
  system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::vector<caf::actor> spawned;
  std::shared_ptr<std::mutex> mtx = std::make_shared<std::mutex>();
  std::shared_ptr<std::set<uint16_t>> ports
    = std::make_shared<std::set<uint16_t>>();
  uint16_t port = 0;

  // An http:// server whose every request is answered after `delay` with
  // "you asked for PATH".
  explicit fixture(caf::timespan delay = caf::timespan{0}) {
    auto m = mtx;
    auto seen = ports;
    auto handler = sys.spawn([=](caf::event_based_actor* me) -> caf::behavior {
      return {[=](const http_request& req) -> caf::result<http_response> {
        {
          std::lock_guard<std::mutex> guard{*m};
          seen->insert(req.peer_port);
        }
        http_response res{200, {{"X-Path", req.path}},
                          "you asked for " + req.path};
        if (delay == caf::timespan{0})
          return res;
        auto rp = me->make_response_promise();
        me->delayed_send(me, delay, caf::make_message(rp, res));
        return rp;
      }, [](caf::response_promise& rp, http_response& res) {
        rp.deliver(std::move(res));
      }};
    });
    spawned.push_back(handler);
    auto acc = accept(sys, "http://127.0.0.1:0", options{}, {handler});
    if (!acc)
      BOOST_FAIL("accept: " + describe(acc.error()));
    auto p = bound_port(sys, *acc);
    BOOST_REQUIRE(p);
    port = *p;
    spawned.push_back(caf::actor_cast<caf::actor>(*acc));
  }

  ~fixture() {
    for (auto& x : spawned)
      caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  caf::actor client(const options& opts = options{}) {
    auto c = spawn_http_client(sys, opts);
    if (!c)
      BOOST_FAIL("spawn_http_client: " + describe(c.error()));
    spawned.push_back(*c);
    return *c;
  }

  std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }

  caf::expected<http_response> get(const caf::actor& c,
                                    const std::string& target) {
    caf::expected<http_response> r = caf::error{};
    self->request(c, 10s, get_of(target))
      .receive([&](http_response& res) { r = std::move(res); },
               [&](caf::error& err) { r = std::move(err); });
    return r;
  }

  http_client_stats stats(const caf::actor& c) {
    http_client_stats r;
    self->request(c, 5s, stats_atom::value)
      .receive([&](http_client_stats& s) { r = s; },
               [](caf::error& err) { BOOST_FAIL(describe(err)); });
    return r;
  }

  size_t server_connections() {
    std::lock_guard<std::mutex> guard{*mtx};
    return ports->size();
  }
};

struct slow_fixture : fixture {
  slow_fixture() : fixture(100ms) {
    // nop
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(http_client, fixture)

BOOST_AUTO_TEST_CASE(a_request_from_an_actor_is_answered_with_the_response) {
  auto c = client();
  auto res = get(c, url("/items/1?x=2"));
  if (!res)
    BOOST_FAIL(describe(res.error()));
  BOOST_CHECK_EQUAL(res->status, 200);
  BOOST_CHECK_EQUAL(res->body, "you asked for /items/1");
  bool has_path = false;
  for (auto& [k, v] : res->headers)
    has_path |= k == "X-Path" && v == "/items/1";
  BOOST_CHECK(has_path);
}

BOOST_AUTO_TEST_CASE(requests_one_after_another_reuse_one_connection) {
  auto c = client();
  for (int i = 0; i < 5; ++i)
    BOOST_REQUIRE(get(c, url("/n")));
  auto st = stats(c);
  BOOST_CHECK_EQUAL(st.created, 1u);
  BOOST_CHECK_EQUAL(st.reused, 4u);
  BOOST_CHECK_EQUAL(st.responses, 5u);
  BOOST_CHECK_EQUAL(st.idle, 1u);
  BOOST_CHECK_EQUAL(server_connections(), 1u);
}

BOOST_AUTO_TEST_CASE(without_the_pool_each_request_opens_its_own_connection) {
  options o;
  o.http_client.pool = false;
  auto c = client(o);
  for (int i = 0; i < 3; ++i)
    BOOST_REQUIRE(get(c, url("/n")));
  auto st = stats(c);
  BOOST_CHECK_EQUAL(st.created, 3u);
  BOOST_CHECK_EQUAL(st.reused, 0u);
  BOOST_CHECK_EQUAL(st.open, 0u);
  BOOST_CHECK_EQUAL(server_connections(), 3u);
}

BOOST_AUTO_TEST_CASE(a_url_the_client_cannot_use_is_invalid_argument) {
  auto c = client();
  for (auto bad : {"ftp://127.0.0.1:21/", "http://:80/", "http://h:0/",
                   "tcp://127.0.0.1:9/", "no url"}) {
    auto res = get(c, bad);
    BOOST_REQUIRE_MESSAGE(!res, bad);
    BOOST_CHECK_MESSAGE(code_of(res.error()) == error::invalid_argument,
                        bad << ": " << describe(res.error()));
  }
}

BOOST_AUTO_TEST_CASE(a_bound_of_zero_is_refused_at_spawn) {
  options o;
  o.http_client.max_connections_per_host = 0;
  auto c = spawn_http_client(sys, o);
  BOOST_REQUIRE(!c);
  BOOST_CHECK(code_of(c.error()) == error::invalid_argument);
}

BOOST_AUTO_TEST_CASE(an_idle_connection_closes_after_the_idle_timeout) {
  options o;
  o.http_client.idle_timeout = 200ms;
  auto c = client(o);
  BOOST_REQUIRE(get(c, url("/n")));
  BOOST_CHECK_EQUAL(stats(c).idle, 1u);
  // No event says it closed: ask, within a bound.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (stats(c).open != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_CHECK_EQUAL(stats(c).open, 0u);
  // The next request opens a fresh one.
  BOOST_REQUIRE(get(c, url("/n")));
  BOOST_CHECK_EQUAL(stats(c).created, 2u);
}

// Issue 20: mutual TLS end to end; the server's handler learns who the
// client is from its certificate. (ctest sets NETASYNC_TEST_TLS_CERTS.)
BOOST_AUTO_TEST_CASE(a_client_certificate_reaches_the_handler_as_its_subject) {
  auto env = std::getenv("NETASYNC_TEST_TLS_CERTS");
  BOOST_REQUIRE_MESSAGE(env != nullptr, "NETASYNC_TEST_TLS_CERTS is not set");
  std::string dir = env;
  auto who = sys.spawn([]() -> caf::behavior {
    return {[](const http_request& req) {
      return http_response{200, {}, req.peer_cert_subject};
    }};
  });
  spawned.push_back(who);
  options server;
  server.tls.cert_file = dir + "/server.pem";
  server.tls.key_file = dir + "/server.key";
  server.tls.ca_file = dir + "/ca.pem";
  server.tls.client_cert = client_cert_policy::required;
  auto acc = accept(sys, "https://127.0.0.1:0", server, {who});
  if (!acc)
    BOOST_FAIL("accept: " + describe(acc.error()));
  spawned.push_back(caf::actor_cast<caf::actor>(*acc));
  auto p = bound_port(sys, *acc);
  BOOST_REQUIRE(p);
  options o;
  o.tls.ca_file = dir + "/ca.pem";
  o.tls.cert_file = dir + "/client.pem";
  o.tls.key_file = dir + "/client.key";
  auto res = get(client(o), "https://127.0.0.1:" + std::to_string(*p) + "/who");
  if (!res)
    BOOST_FAIL(describe(res.error()));
  BOOST_CHECK_EQUAL(res->status, 200);
  BOOST_CHECK_EQUAL(res->body, "CN=netasync test client");
}

// Issue 20: the pool's counters are in /metrics beside the server's, for
// every HTTP client of the actor system, live or ended.
BOOST_AUTO_TEST_CASE(the_pool_counters_of_the_systems_clients_are_in_metrics) {
  options mo;
  mo.ws.metrics = true;
  auto acc = accept(sys, "http://127.0.0.1:0", mo, {spawned.front()});
  BOOST_REQUIRE(acc);
  spawned.push_back(caf::actor_cast<caf::actor>(*acc));
  auto mport = bound_port(sys, *acc);
  BOOST_REQUIRE(mport);
  auto metrics_url = "http://127.0.0.1:" + std::to_string(*mport) + "/metrics";
  auto c = client();
  BOOST_REQUIRE(get(c, url("/a")));
  BOOST_REQUIRE(get(c, url("/b")));
  auto other = client();
  BOOST_REQUIRE(get(other, url("/c")));
  // Asked through `c` itself: its third request is on its way meanwhile,
  // on a second connection (another origin), and it answers the count.
  auto res = get(c, metrics_url);
  BOOST_REQUIRE(res);
  auto has = [&](const std::string& line) {
    if (res->body.find("\n" + line + "\n") == std::string::npos)
      BOOST_ERROR("no line '" << line << "' in:\n" << res->body);
  };
  has("netasync_http_client_connections_created_total 3");
  has("netasync_http_client_requests_reused_total 1");
  has("netasync_http_client_responses_total 3");
  has("netasync_http_client_connections_open 3");
  has("netasync_http_client_connections_idle 2");
  has("netasync_http_client_requests_waiting 0");
  has("netasync_connections_open 0");
  // An ended client's counters stay in the sums; its connections do not.
  self->send_exit(other, caf::exit_reason::user_shutdown);
  self->wait_for(other);
  res = get(c, metrics_url);
  BOOST_REQUIRE(res);
  has("netasync_http_client_connections_created_total 3");
  has("netasync_http_client_responses_total 4");
  has("netasync_http_client_connections_open 2");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(http_client_under_load, slow_fixture)

BOOST_AUTO_TEST_CASE(requests_past_the_per_host_bound_wait_for_a_connection) {
  options o;
  o.http_client.max_connections_per_host = 2;
  auto c = client(o);
  // Twelve at once to a server that takes 100 ms each: two connections,
  // six requests each, all answered.
  for (int i = 0; i < 12; ++i)
    self->send(c, get_of(url("/r/" + std::to_string(i))));
  std::set<std::string> bodies;
  for (int i = 0; i < 12; ++i)
    self->receive([&](http_response& res) { bodies.insert(res.body); },
                  [&](caf::error& err) { BOOST_FAIL(describe(err)); },
                  caf::after(10s) >> [] { BOOST_FAIL("no answer in 10 s"); });
  BOOST_CHECK_EQUAL(bodies.size(), 12u);
  auto st = stats(c);
  BOOST_CHECK_EQUAL(st.created, 2u);
  BOOST_CHECK_EQUAL(st.reused, 10u);
  BOOST_CHECK_EQUAL(server_connections(), 2u);
}

// Requests past http-client.max-waiting for one origin are refused at
// once, not held; those within it are all served.
BOOST_AUTO_TEST_CASE(a_request_past_max_waiting_is_refused_at_once) {
  options o;
  o.http_client.max_connections_per_host = 1;
  o.http_client.max_waiting = 2;
  auto c = client(o);
  BOOST_REQUIRE(get(c, url("/warm"))); // its connection is idle now
  // The first takes it (100 ms), two wait, the fourth is one too many.
  for (int i = 0; i < 4; ++i)
    self->send(c, get_of(url("/r/" + std::to_string(i))));
  self->receive(
    [&](http_response& res) { BOOST_FAIL("first came " + res.body); },
    [&](caf::error& err) {
      BOOST_CHECK_EQUAL(to_string(code_of(err)), "outbound_buffer_full");
    },
    caf::after(5s) >> [] { BOOST_FAIL("no answer in 5 s"); });
  std::set<std::string> bodies;
  for (int i = 0; i < 3; ++i)
    self->receive([&](http_response& res) { bodies.insert(res.body); },
                  [&](caf::error& err) { BOOST_FAIL(describe(err)); },
                  caf::after(5s) >> [] { BOOST_FAIL("no answer in 5 s"); });
  BOOST_CHECK_EQUAL(bodies.size(), 3u);
  BOOST_CHECK_EQUAL(stats(c).created, 1u);
}

// A client that ends answers every request it holds (on a connection or
// waiting for one) with shutting_down, rather than leave its askers to
// their own timeouts.
BOOST_AUTO_TEST_CASE(requests_held_when_the_client_ends_are_answered_shutting_down) {
  options o;
  o.http_client.max_connections_per_host = 1;
  auto c = client(o);
  for (int i = 0; i < 3; ++i)
    self->send(c, get_of(url("/r/" + std::to_string(i))));
  // Asked after the three, so answered once the client holds them all: the
  // first dials or is on its way (the server takes 100 ms), two wait.
  BOOST_CHECK_GE(stats(c).waiting, 2u);
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i)
    self->receive(
      [&](http_response&) { BOOST_FAIL("answered after the end"); },
      [&](caf::error& err) {
        BOOST_CHECK_EQUAL(to_string(code_of(err)), "shutting_down");
      },
      caf::after(5s) >> [] { BOOST_FAIL("no answer in 5 s"); });
  BOOST_CHECK(std::chrono::steady_clock::now() - start < 2s);
}

BOOST_AUTO_TEST_CASE(a_response_past_the_request_timeout_is_http_timeout) {
  options o;
  o.http_client.request_timeout = 30ms;
  auto c = client(o);
  auto res = get(c, url("/slow"));
  BOOST_REQUIRE(!res);
  BOOST_CHECK_EQUAL(to_string(code_of(res.error())), "http_timeout");
  // The connection it was on is gone; the client carries on.
  BOOST_CHECK_EQUAL(stats(c).open, 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- streamed bodies ----------------------------------------------------------

namespace {

constexpr size_t piece_size = 16 * 1024;
constexpr size_t pieces = 200; // 3.2 MB

// A server whose every answer is a chunked body of `pieces` pieces, the
// i-th all of letter 'a' + i % 26, and a client whose whole-body bound
// (64 KiB) that body is far past.
struct stream_fixture {
  system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::vector<caf::actor> spawned;
  uint16_t port = 0;
  caf::actor http;

  stream_fixture() {
    auto producer = sys.spawn([](caf::event_based_actor* me) -> caf::behavior {
      return {
        [=](http_stream_atom, caf::actor stream, const http_request&) {
          for (size_t i = 0; i < pieces; ++i)
            me->send(stream, std::string(piece_size, char('a' + i % 26)));
          me->send(stream, close_atom::value);
        },
        [](closed_atom, const caf::actor&, const caf::error&) {},
      };
    });
    auto handler = sys.spawn([producer]() -> caf::behavior {
      return {[producer](const http_request& req) {
        http_response res;
        if (req.path == "/moved")
          return http_response{302, {{"Location", "/download"}},
                               "see /download"};
        res.producer = producer;
        return res;
      }};
    });
    spawned = {producer, handler};
    options server;
    server.max_outbound_bytes = 8 * 1024 * 1024;
    auto acc = accept(sys, "http://127.0.0.1:0", server, {handler});
    if (!acc)
      BOOST_FAIL("accept: " + describe(acc.error()));
    spawned.push_back(caf::actor_cast<caf::actor>(*acc));
    auto p = bound_port(sys, *acc);
    BOOST_REQUIRE(p);
    port = *p;
    options o;
    o.http_client.max_body_bytes = 64 * 1024;
    auto c = spawn_http_client(sys, o);
    if (!c)
      BOOST_FAIL(describe(c.error()));
    http = *c;
    spawned.push_back(http);
  }

  ~stream_fixture() {
    for (auto& x : spawned)
      caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  std::string url() {
    return "http://127.0.0.1:" + std::to_string(port) + "/download";
  }

  // The sink's report that the body ended, complete and whole.
  void expect_whole_body();
};

using release_atom = caf::atom_constant<caf::atom("release")>;

// Collects a streamed body; with `hold`, keeps the first piece unanswered
// until told (release_atom), and tells `probe` when it holds it.
caf::behavior sink(caf::event_based_actor* me, caf::actor probe, bool hold) {
  struct st {
    std::string body;
    size_t pieces = 0;
    caf::response_promise held;
  };
  auto s = std::make_shared<st>();
  return {
    [=](http_body_atom, std::string& piece) {
      s->body += piece;
      if (++s->pieces == 1 && hold) {
        s->held = me->make_response_promise();
        me->send(probe, release_atom::value, s->pieces);
      }
    },
    [=](http_body_atom, caf::error& err) {
      me->send(probe, std::move(s->body), s->pieces, std::move(err));
    },
    [=](release_atom) { s->held.deliver(caf::unit); },
    [=](get_atom) { return s->pieces; },
  };
}

void check_body(const std::string& body) {
  BOOST_REQUIRE_EQUAL(body.size(), pieces * piece_size);
  for (size_t i = 0; i < pieces; ++i)
    if (body[i * piece_size] != char('a' + i % 26)
        || body[(i + 1) * piece_size - 1] != char('a' + i % 26))
      BOOST_FAIL("piece " << i << " is not what was sent");
}

void stream_fixture::expect_whole_body() {
  self->receive(
    [](std::string& body, size_t, caf::error& err) {
      BOOST_CHECK_MESSAGE(!err, describe(err));
      check_body(body);
    },
    caf::after(20s) >> [] { BOOST_FAIL("the body did not end in 20 s"); });
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(http_client_streams, stream_fixture)

BOOST_AUTO_TEST_CASE(a_body_past_max_body_bytes_is_refused_whole) {
  caf::error err;
  self->request(http, 10s, get_of(url()))
    .receive([](http_response&) { BOOST_FAIL("a 3.2 MB body within 64 KiB"); },
             [&](caf::error& e) { err = e; });
  BOOST_CHECK_EQUAL(to_string(code_of(err)), "http_response_too_large");
}

BOOST_AUTO_TEST_CASE(a_streamed_body_reaches_its_sink_whole_and_then_its_end) {
  auto s = sys.spawn(sink, caf::actor{self}, false);
  spawned.push_back(s);
  self->request(http, 10s, get_of(url()), s)
    .receive(
      [](http_response& head) {
        BOOST_CHECK_EQUAL(head.status, 200);
        BOOST_CHECK(head.body.empty());
      },
      [](caf::error& e) { BOOST_FAIL(describe(e)); });
  expect_whole_body();
  // The connection went back to the pool for the next request.
  http_client_stats st;
  self->request(http, 5s, stats_atom::value)
    .receive([&](http_client_stats& x) { st = x; },
             [](caf::error& e) { BOOST_FAIL(describe(e)); });
  BOOST_CHECK_EQUAL(st.idle, 1u);
}

// A redirect followed for a streamed body: the sink gets the body of
// where it leads, never the redirect's own.
BOOST_AUTO_TEST_CASE(a_streamed_body_follows_a_redirect_to_its_end) {
  options o;
  o.http_client.max_redirects = 1;
  auto c = spawn_http_client(sys, o);
  BOOST_REQUIRE(c);
  spawned.push_back(*c);
  auto s = sys.spawn(sink, caf::actor{self}, false);
  spawned.push_back(s);
  auto moved = "http://127.0.0.1:" + std::to_string(port) + "/moved";
  self->request(*c, 10s, get_of(moved), s)
    .receive([](http_response& head) { BOOST_CHECK_EQUAL(head.status, 200); },
             [](caf::error& e) { BOOST_FAIL(describe(e)); });
  expect_whole_body();
}

BOOST_AUTO_TEST_CASE(a_sink_that_holds_a_piece_gets_no_other_until_it_answers) {
  auto s = sys.spawn(sink, caf::actor{self}, true);
  spawned.push_back(s);
  self->request(http, 10s, get_of(url()), s)
    .receive([](http_response&) {},
             [](caf::error& e) { BOOST_FAIL(describe(e)); });
  self->receive([](release_atom, size_t n) { BOOST_CHECK_EQUAL(n, 1u); },
                caf::after(10s) >> [] { BOOST_FAIL("no first piece"); });
  // The server has 3.2 MB to send; while the sink holds its piece, the
  // connection reads nothing, so nothing more reaches the sink.
  std::this_thread::sleep_for(300ms);
  self->request(s, 5s, get_atom::value)
    .receive([](size_t n) { BOOST_CHECK_EQUAL(n, 1u); },
             [](caf::error& e) { BOOST_FAIL(describe(e)); });
  self->send(s, release_atom::value);
  self->receive(
    [](std::string& body, size_t n, caf::error& err) {
      BOOST_CHECK_MESSAGE(!err, describe(err));
      BOOST_CHECK_GT(n, 1u);
      check_body(body);
    },
    caf::after(20s) >> [] { BOOST_FAIL("the body did not end in 20 s"); });
}

// Beast 1.74 refuses any Content-Length when the body limit is off
// (boostorg/beast#2070): a sized body must stream as a chunked one does.
BOOST_AUTO_TEST_CASE(a_body_with_a_content_length_streams_too) {
  auto plain = sys.spawn([]() -> caf::behavior {
    return {[](const http_request&) {
      return http_response{200, {}, std::string(100000, 'q')};
    }};
  });
  spawned.push_back(plain);
  auto acc = accept(sys, "http://127.0.0.1:0", options{}, {plain});
  if (!acc)
    BOOST_FAIL("accept: " + describe(acc.error()));
  spawned.push_back(caf::actor_cast<caf::actor>(*acc));
  auto p = bound_port(sys, *acc);
  BOOST_REQUIRE(p);
  auto s = sys.spawn(sink, caf::actor{self}, false);
  spawned.push_back(s);
  self->request(http, 10s, get_of("http://127.0.0.1:" + std::to_string(*p)
                                  + "/sized"), s)
    .receive([](http_response& head) { BOOST_CHECK_EQUAL(head.status, 200); },
             [](caf::error& e) { BOOST_FAIL(describe(e)); });
  self->receive(
    [](std::string& body, size_t, caf::error& err) {
      BOOST_CHECK_MESSAGE(!err, describe(err));
      BOOST_CHECK(body == std::string(100000, 'q'));
    },
    caf::after(10s) >> [] { BOOST_FAIL("the body did not end in 10 s"); });
}

BOOST_AUTO_TEST_CASE(a_sink_hears_the_end_of_a_request_that_failed_before_its_head) {
  auto s = sys.spawn(sink, caf::actor{self}, false);
  spawned.push_back(s);
  // A port nothing listens on (bound, never listened): refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                == 0);
  auto closed_port = ntohs(addr.sin_port);
  caf::error asked;
  self->request(http, 10s, get_of("http://127.0.0.1:"
                                  + std::to_string(closed_port) + "/"), s)
    .receive([](http_response&) {}, [&](caf::error& e) { asked = e; });
  ::close(fd);
  BOOST_REQUIRE_EQUAL(to_string(code_of(asked)), "connect_failed");
  self->receive(
    [](std::string&, size_t pieces, caf::error& err) {
      BOOST_CHECK_EQUAL(pieces, 0u);
      BOOST_CHECK_EQUAL(to_string(code_of(err)), "connect_failed");
    },
    caf::after(10s) >> [] { BOOST_FAIL("the sink heard no end"); });
}

BOOST_AUTO_TEST_SUITE_END()
