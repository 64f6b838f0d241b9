// Sessions, deterministically: the session frames alone, then a client and a
// server connection actor over fake links, in virtual time (CAF's test
// coordinator). The handshake, numbering, duplicate suppression, the ACK
// rules, resends from the peer's receive point, expiry, refusals, calls and
// drains, each case one rule of docs/protocol.md section 13.

#define BOOST_TEST_MODULE session
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "connection_supervisor.hpp"
#include "session_frames.hpp"
#include "session_link.hpp"
#include "subscriber_watch.hpp"
#include "support/actor_fixture.hpp"
#include "support/fake_dialer.hpp"

using namespace netasync;
using namespace netasync::test;
using namespace std::chrono_literals;
namespace session = netasync::detail::session;

namespace {

std::string str(const bytes& x) {
  return std::string(x.begin(), x.end());
}

bytes to_bytes(const std::string& x) {
  return bytes(x.begin(), x.end());
}

std::string join(const std::vector<std::string>& xs) {
  std::string r = "[";
  for (auto& x : xs) {
    if (r.size() > 1)
      r += ", ";
    r += x;
  }
  return r + "]";
}

#define CHECK_LOG(actual, ...)                                                 \
  BOOST_CHECK_EQUAL(join(actual), join(std::vector<std::string>{__VA_ARGS__}))

// A written (or to be received) session frame, readable: "HELLO(c,resume,
// next=0)", "DATA#0:a", "ACK(3)", "CALL#0/1:q", "REPLY#0/1:ok:x",
// "CLOSE(0)", "REFUSE(1)".
std::string show(const std::string& frame) {
  bytes b = to_bytes(frame);
  if (auto h = session::decode_hello(b))
    return std::string{"HELLO("} + (h->from == session::side::client ? "c" : "s")
           + (h->resume ? ",resume" : "") + ",next=" + std::to_string(h->next)
           + ")";
  auto v = session::parse(b);
  if (!v)
    return "?";
  auto rest = frame.substr(v->header);
  switch (v->t) {
    case session::type::data:
      return "DATA#" + std::to_string(v->seq) + ":" + rest;
    case session::type::ack:
      return "ACK(" + std::to_string(v->next) + ")";
    case session::type::call:
      return "CALL#" + std::to_string(v->seq) + "/" + std::to_string(v->call)
             + ":" + rest;
    case session::type::reply:
      return "REPLY#" + std::to_string(v->seq) + "/" + std::to_string(v->call)
             + (v->code == 0 ? ":ok:" : ":err:") + rest;
    case session::type::close:
      return "CLOSE(" + std::to_string(v->code) + ")";
    case session::type::refuse:
      return "REFUSE(" + std::to_string(v->code) + ")";
    default:
      return "?";
  }
}

std::vector<std::string> shown(const std::vector<std::string>& frames,
                               size_t from = 0) {
  std::vector<std::string> r;
  for (auto i = from; i < frames.size(); ++i)
    r.push_back(show(frames[i]));
  return r;
}

std::string hello_frame(session::side from, const session::session_id& id,
                        uint64_t next, bool resume = false) {
  session::hello h;
  h.from = from;
  h.id = id;
  h.next = next;
  h.resume = resume;
  return str(session::encode_hello(h));
}

std::string data_frame(uint64_t seq, const std::string& payload) {
  return str(session::encode_numbered(session::type::data, seq,
                                      to_bytes(payload)));
}

std::string reply_frame(uint64_t seq, uint64_t call, const std::string& x,
                        uint8_t status = 0) {
  return str(session::encode_numbered(session::type::reply, seq, to_bytes(x),
                                      call, status));
}

std::string call_frame(uint64_t seq, uint64_t call, const std::string& x) {
  return str(session::encode_numbered(session::type::call, seq, to_bytes(x),
                                      call));
}

std::string ack_frame(uint64_t next) {
  return str(session::encode_ack(next));
}

session::session_id id_in(const std::string& hello) {
  auto h = session::decode_hello(to_bytes(hello));
  BOOST_REQUIRE(h);
  return h->id;
}

// Answers calls: "fail" with an error, anything else reversed; "hold" keeps
// the promise until the test sends (release_atom, answer).
using release_atom = caf::atom_constant<caf::atom("release")>;

struct call_handler_state {
  std::vector<caf::response_promise> held;
};

caf::behavior call_handler(caf::stateful_actor<call_handler_state>* self,
                           int* held, int* calls, event_log log) {
  return {
    [=](call_atom, const connection&, const bytes& x) -> caf::result<bytes> {
      ++*calls;
      auto s = str(x);
      if (s == "fail")
        return make_error(error::invalid_argument, "no such key");
      if (s == "hold") {
        self->state.held.push_back(self->make_response_promise());
        ++*held;
        return caf::delegated<bytes>{};
      }
      return bytes(s.rbegin(), s.rend());
    },
    [=](release_atom, const std::string& answer) {
      for (auto& rp : self->state.held)
        rp.deliver(to_bytes(answer));
      self->state.held.clear();
    },
    [=](const connection&, const bytes& payload) {
      log->emplace_back("data:" + str(payload));
    },
    [=](connected_atom, const connection&) { log->emplace_back("connected"); },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      log->emplace_back("disconnected:" + code_name(err));
    },
    [=](closed_atom, const connection&, const caf::error& err) {
      log->emplace_back("closed:" + code_name(err));
    },
  };
}

// -- the client ---------------------------------------------------------------

struct client_fixture : actor_fixture {
  std::shared_ptr<fake_dialer> dialer = std::make_shared<fake_dialer>();
  options opts;
  caf::actor sub;
  event_log log;
  connection conn;
  caf::actor watch = detail::spawn_subscriber_watch(sys);
  caf::scoped_actor caller{sys};

  client_fixture() {
    to_stop.push_back(watch);
    std::tie(sub, log) = make_recorder();
    dialer->clock = &sched.clock();
    opts.session = true;
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

  /// A dialled link on which the client said HELLO (not answered yet).
  std::shared_ptr<fake_transport> dialled() {
    auto tr = dialer->succeed();
    run();
    return tr;
  }

  /// A link whose handshake completed: the server received nothing before.
  std::shared_ptr<fake_transport> session_up(uint64_t server_next = 0) {
    auto tr = dialled();
    BOOST_REQUIRE(!tr->written.empty());
    tr->receive({hello_frame(session::side::server, id_in(tr->written[0]),
                             server_next)});
    run();
    return tr;
  }

  void send(const std::string& x) {
    caf::anon_send(conn, to_bytes(x));
    run();
  }

  connection_stats stats() {
    auto s = ask<connection_stats>(conn, get_atom::value, stats_atom::value);
    BOOST_REQUIRE(s);
    return *s;
  }
};

// -- the server ---------------------------------------------------------------

struct server_fixture : actor_fixture {
  options opts;
  connection conn;
  caf::actor watch = detail::spawn_subscriber_watch(sys);
  // Stands in for the acceptor: the owner of links while they handshake.
  caf::actor owner;
  session::session_id id{{7, 7, 7}};
  int held = 0;
  int calls = 0;
  event_log log = std::make_shared<std::vector<std::string>>();
  caf::actor handler;
  uint64_t tokens = 0;

  server_fixture() {
    to_stop.push_back(watch);
    owner = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
      self->set_default_handler(caf::drop);
      return {[](int) {}};
    });
    to_stop.push_back(owner);
    opts.session = true;
    handler = sys.spawn(call_handler, &held, &calls, log);
    to_stop.push_back(handler);
  }

  ~server_fixture() {
    if (conn)
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    run();
  }

  struct accepted_link {
    std::shared_ptr<fake_transport> tr;
    detail::session_link_ptr hs;
  };

  /// An accepted link on which the client's HELLO arrived (as the acceptor
  /// sees it when it hands the link on).
  accepted_link accepted(uint64_t client_next, bool resume) {
    accepted_link r;
    r.tr = std::make_shared<fake_transport>(&sched.clock());
    r.hs = std::make_shared<detail::session_link>(session::side::server,
                                                  owner, ++tokens);
    r.tr->start(r.hs, opts.heartbeat_period);
    r.tr->receive({hello_frame(session::side::client, id, client_next,
                               resume)});
    run();
    return r;
  }

  accepted_link start(uint64_t peer_next = 0) {
    auto a = accepted(peer_next, false);
    supervisor_config c;
    c.side = role::server;
    c.accepted = a.tr;
    c.accepted_session = a.hs;
    c.session_id = id;
    c.accepted_peer_next = peer_next;
    c.opts = std::make_shared<const options>(opts);
    c.subscribers = {handler};
    c.watch = watch;
    conn = spawn_connection_supervisor(sys, std::move(c));
    caf::anon_send(caf::actor_cast<caf::actor>(conn), start_link_atom::value);
    run();
    return a;
  }

  void send(const std::string& x) {
    caf::anon_send(conn, to_bytes(x));
    run();
  }

  /// A started session whose outbound buffer (4 messages at most) is full
  /// of replies the client has not acknowledged.
  accepted_link start_with_a_full_buffer() {
    opts.max_outbound_messages = 4;
    auto a = start();
    for (int i = 0; i < 4; ++i)
      send("r" + std::to_string(i));
    return a;
  }

  /// A plain (no session) server connection on a fake link.
  std::shared_ptr<fake_transport> start_plain() {
    auto tr = std::make_shared<fake_transport>(&sched.clock());
    supervisor_config c;
    c.side = role::server;
    c.accepted = tr;
    auto o = opts;
    o.session = false;
    c.opts = std::make_shared<const options>(o);
    c.subscribers = {handler};
    c.watch = watch;
    conn = spawn_connection_supervisor(sys, std::move(c));
    caf::anon_send(caf::actor_cast<caf::actor>(conn), start_link_atom::value);
    run();
    return tr;
  }
};

} // namespace

// -- frames -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(frames)

BOOST_AUTO_TEST_CASE(hello_round_trips_and_is_36_bytes) {
  session::hello h;
  h.from = session::side::server;
  h.resume = true;
  h.id = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
  h.next = 0x0102030405060708ull;
  auto b = session::encode_hello(h);
  BOOST_CHECK_EQUAL(b.size(), 36u);
  auto back = session::decode_hello(b);
  BOOST_REQUIRE(back);
  BOOST_CHECK(back->from == session::side::server);
  BOOST_CHECK(back->resume);
  BOOST_CHECK(back->id == h.id);
  BOOST_CHECK_EQUAL(back->next, h.next);
  // Big-endian on the wire.
  BOOST_CHECK_EQUAL(static_cast<int>(b[28]), 1);
  BOOST_CHECK_EQUAL(static_cast<int>(b[35]), 8);
}

BOOST_AUTO_TEST_CASE(a_payload_that_is_no_hello_is_not_taken_for_one) {
  BOOST_CHECK(!session::decode_hello(to_bytes("hello")));
  auto b = session::encode_hello(session::hello{});
  b[3] = 'X'; // magic
  BOOST_CHECK(!session::decode_hello(b));
  b = session::encode_hello(session::hello{});
  b.push_back(0);
  BOOST_CHECK(!session::decode_hello(b));
}

BOOST_AUTO_TEST_CASE(malformed_frames_do_not_parse) {
  BOOST_CHECK(!session::parse(bytes{}));
  BOOST_CHECK(!session::parse(bytes{2, 0, 0}));         // DATA too short
  BOOST_CHECK(!session::parse(bytes{3, 0, 0, 0, 0}));   // ACK too short
  BOOST_CHECK(!session::parse(bytes{9, 1, 2, 3}));      // unknown type
  auto reply = session::encode_numbered(session::type::reply, 1, {}, 2, 0);
  reply[17] = 5; // status
  BOOST_CHECK(!session::parse(reply));
  BOOST_CHECK(!session::parse(session::encode_hello(session::hello{})));
}

BOOST_AUTO_TEST_CASE(numbered_frames_carry_sequence_and_call_ids) {
  BOOST_CHECK_EQUAL(show(data_frame(5, "abc")), "DATA#5:abc");
  BOOST_CHECK_EQUAL(show(call_frame(6, 9, "q")), "CALL#6/9:q");
  BOOST_CHECK_EQUAL(show(reply_frame(7, 9, "e", 1)), "REPLY#7/9:err:e");
  BOOST_CHECK_EQUAL(show(ack_frame(12)), "ACK(12)");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the client's handshake and numbering --------------------------------------

BOOST_FIXTURE_TEST_SUITE(client, client_fixture)

BOOST_AUTO_TEST_CASE(hello_goes_first_and_payloads_wait_for_the_servers) {
  start();
  send("a");
  auto tr = dialled();
  CHECK_LOG(shown(tr->written), "HELLO(c,next=0)");
  CHECK_LOG(*log);
  BOOST_CHECK_EQUAL(stats().state, "connecting");
  tr->receive({hello_frame(session::side::server, id_in(tr->written[0]), 0)});
  run();
  CHECK_LOG(shown(tr->written), "HELLO(c,next=0)", "DATA#0:a");
  CHECK_LOG(*log, "connected");
}

BOOST_AUTO_TEST_CASE(frames_after_the_servers_hello_in_one_read_are_delivered) {
  start();
  auto tr = dialled();
  tr->receive({hello_frame(session::side::server, id_in(tr->written[0]), 0),
               data_frame(0, "x")});
  run();
  CHECK_LOG(*log, "connected", "data:x");
}

BOOST_AUTO_TEST_CASE(duplicates_are_dropped_and_counted) {
  start();
  auto tr = session_up();
  tr->receive({data_frame(0, "x"), data_frame(0, "x"), data_frame(1, "y")});
  run();
  tr->receive({data_frame(1, "y")});
  run();
  CHECK_LOG(*log, "connected", "data:x", "data:y");
  BOOST_CHECK_EQUAL(stats().duplicates, 2u);
  BOOST_CHECK_EQUAL(stats().received, 2u);
}

BOOST_AUTO_TEST_CASE(a_gap_in_the_numbers_drops_the_link) {
  start();
  auto tr = session_up();
  tr->receive({data_frame(3, "late")});
  run();
  CHECK_LOG(*log, "connected", "disconnected:session_protocol_violation");
  BOOST_CHECK(tr->closed());
}

BOOST_AUTO_TEST_CASE(an_ack_follows_after_the_ack_delay) {
  opts.session_ack_delay = 10ms;
  start();
  auto tr = session_up();
  tr->receive({data_frame(0, "x")});
  run();
  CHECK_LOG(shown(tr->written, 1));
  advance(10ms - caf::timespan{1});
  CHECK_LOG(shown(tr->written, 1));
  advance(caf::timespan{1});
  CHECK_LOG(shown(tr->written, 1), "ACK(1)");
  // Nothing new: no further ACK.
  advance(1s);
  CHECK_LOG(shown(tr->written, 1), "ACK(1)");
}

BOOST_AUTO_TEST_CASE(an_ack_goes_out_at_once_every_128_frames) {
  start();
  auto tr = session_up();
  std::vector<std::string> frames;
  for (uint64_t i = 0; i < 128; ++i)
    frames.push_back(data_frame(i, "m"));
  tr->receive(frames);
  run();
  CHECK_LOG(shown(tr->written, 1), "ACK(128)");
}

BOOST_AUTO_TEST_CASE(an_ack_frees_the_acknowledged_messages) {
  start();
  auto tr = session_up();
  send("a");
  send("b");
  send("c");
  BOOST_CHECK_EQUAL(stats().buffered_messages, 3u);
  tr->receive({ack_frame(2)});
  run();
  BOOST_CHECK_EQUAL(stats().buffered_messages, 1u);
  BOOST_CHECK_EQUAL(stats().sent, 2u);
}

// docs/protocol.md 13.4.1: the server may hold back what it has no room for
// and read on, so a sender keeps at most 1,024 frames and 4 MiB
// unacknowledged.
BOOST_AUTO_TEST_CASE(it_keeps_at_most_1024_frames_unacknowledged) {
  opts.max_outbound_messages = 2000;
  start();
  auto tr = session_up();
  for (int i = 0; i < 1030; ++i)
    caf::anon_send(conn, to_bytes("m"));
  run();
  BOOST_CHECK_EQUAL(tr->written.size(), 1u + 1024u); // HELLO first
  tr->receive({ack_frame(6)});
  run();
  BOOST_CHECK_EQUAL(tr->written.size(), 1u + 1030u);
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_what_is_left_of_the_window_waits_for_the_acks) {
  opts.max_outbound_bytes = 2 * session::window_bytes;
  start();
  auto tr = session_up();
  send("a");
  caf::anon_send(conn, bytes(session::window_bytes - session::seq_header, 'b'));
  run();
  CHECK_LOG(shown(tr->written, 1), "DATA#0:a");
  tr->receive({ack_frame(1)});
  run();
  BOOST_REQUIRE_EQUAL(tr->written.size(), 3u);
  BOOST_CHECK_EQUAL(tr->written[2].size(), session::window_bytes);
}

BOOST_AUTO_TEST_CASE(after_a_drop_it_resends_from_the_servers_receive_point) {
  start();
  auto tr1 = session_up();
  send("a");
  send("b");
  send("c");
  tr1->receive({ack_frame(1)});
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = dialled();
  CHECK_LOG(shown(tr2->written), "HELLO(c,resume,next=0)");
  // The server had received a and b (its ACK of b was lost with the link).
  tr2->receive({hello_frame(session::side::server, id_in(tr2->written[0]), 2)});
  run();
  CHECK_LOG(shown(tr2->written), "HELLO(c,resume,next=0)", "DATA#2:c");
  CHECK_LOG(*log, "connected", "disconnected:connection_lost", "connected");
  auto s = stats();
  BOOST_CHECK_EQUAL(s.resumes, 1u);
  BOOST_CHECK_EQUAL(s.resent, 1u);
  BOOST_CHECK_EQUAL(s.sent, 2u);
}

BOOST_AUTO_TEST_CASE(its_hello_tells_the_server_where_its_receiving_stopped) {
  start();
  auto tr1 = session_up();
  tr1->receive({data_frame(0, "x"), data_frame(1, "y")});
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = dialled();
  CHECK_LOG(shown(tr2->written), "HELLO(c,resume,next=2)");
  // The server resends y: dropped as a duplicate.
  tr2->receive({hello_frame(session::side::server, id_in(tr2->written[0]), 0),
                data_frame(1, "y"), data_frame(2, "z")});
  run();
  CHECK_LOG(*log, "connected", "data:x", "data:y",
            "disconnected:connection_lost", "connected", "data:z");
}

BOOST_AUTO_TEST_CASE(a_server_that_no_longer_knows_the_session_ends_it) {
  start();
  auto tr1 = session_up();
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = dialled();
  tr2->receive({str(session::encode_refuse(
    session::refuse_code::unknown_session, "restarted"))});
  run();
  CHECK_LOG(*log, "connected", "disconnected:connection_lost",
            "closed:session_expired");
  advance(opts.reconnect_period * 10);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(a_peer_that_echoes_the_hello_is_refused) {
  start();
  auto tr = dialled();
  tr->receive({tr->written[0]});
  run();
  CHECK_LOG(*log, "closed:session_refused");
}

BOOST_AUTO_TEST_CASE(a_peer_whose_first_message_is_no_hello_is_refused) {
  start();
  auto tr = dialled();
  tr->receive({"welcome!"});
  run();
  CHECK_LOG(*log, "closed:session_refused");
}

BOOST_AUTO_TEST_CASE(no_hello_within_the_handshake_timeout_fails_the_attempt) {
  opts.session_handshake_timeout = 3s;
  start();
  auto tr = dialled();
  advance(3s - caf::timespan{1});
  CHECK_LOG(*log);
  advance(caf::timespan{1});
  CHECK_LOG(*log, "disconnected:connect_timeout");
  BOOST_CHECK(tr->closed());
  advance(opts.reconnect_period);
  BOOST_CHECK_EQUAL(dialer->attempts, 2u);
}

BOOST_AUTO_TEST_CASE(a_call_is_answered_by_its_reply) {
  start();
  auto tr = session_up();
  auto rh = caller->request(conn, caf::infinite, call_atom::value,
                            to_bytes("q"));
  run();
  CHECK_LOG(shown(tr->written, 1), "CALL#0/1:q");
  tr->receive({reply_frame(0, 1, "answer")});
  run();
  std::string got;
  rh.receive([&](bytes& x) { got = str(x); },
             [&](caf::error& err) { got = describe(err); });
  BOOST_CHECK_EQUAL(got, "answer");
}

BOOST_AUTO_TEST_CASE(a_calls_error_reply_is_call_failed_with_its_text) {
  start();
  auto tr = session_up();
  auto rh = caller->request(conn, caf::infinite, call_atom::value,
                            to_bytes("q"));
  run();
  tr->receive({reply_frame(0, 1, "no such key", 1)});
  run();
  std::string got;
  rh.receive([&](bytes& x) { got = str(x); },
             [&](caf::error& err) { got = describe(err); });
  BOOST_CHECK_EQUAL(got, "netasync::call_failed (no such key)");
}

BOOST_AUTO_TEST_CASE(a_call_times_out_for_its_caller) {
  start();
  session_up();
  auto rh = caller->request(conn, 2s, call_atom::value, to_bytes("q"));
  run();
  advance(2s);
  std::string got;
  rh.receive([&](bytes& x) { got = str(x); },
             [&](caf::error& err) { got = caf::to_string(err); });
  BOOST_CHECK_EQUAL(got, "system_error(request_timeout)");
}

BOOST_AUTO_TEST_CASE(a_call_pending_at_a_drop_is_resent_and_answered_once) {
  start();
  auto tr1 = session_up();
  auto rh = caller->request(conn, caf::infinite, call_atom::value,
                            to_bytes("q"));
  run();
  tr1->fail(make_error(error::connection_lost));
  run();
  advance(opts.reconnect_period);
  auto tr2 = dialled();
  tr2->receive({hello_frame(session::side::server, id_in(tr2->written[0]), 0)});
  run();
  CHECK_LOG(shown(tr2->written, 1), "CALL#0/1:q");
  // The reply comes twice (the server resent it): one answer.
  tr2->receive({reply_frame(0, 1, "a"), reply_frame(0, 1, "a")});
  run();
  int answers = 0;
  rh.receive([&](bytes&) { ++answers; }, [&](caf::error&) {});
  BOOST_CHECK_EQUAL(answers, 1);
  BOOST_CHECK(caller->mailbox().empty());
  BOOST_CHECK_EQUAL(stats().duplicates, 1u);
}

BOOST_AUTO_TEST_CASE(a_call_without_sessions_is_refused) {
  opts.session = false;
  start();
  dialer->succeed();
  run();
  auto rh = caller->request(conn, caf::infinite, call_atom::value,
                            to_bytes("q"));
  run();
  std::string got;
  rh.receive([&](bytes& x) { got = str(x); },
             [&](caf::error& err) { got = code_name(err); });
  BOOST_CHECK_EQUAL(got, "invalid_argument");
}

BOOST_AUTO_TEST_CASE(acks_are_taken_while_nobody_subscribes) {
  start();
  auto tr = session_up();
  caf::anon_send(conn, unsubscribe_atom::value, sub);
  send("a");
  send("b");
  tr->receive({data_frame(0, "held"), ack_frame(2)});
  run();
  BOOST_CHECK_EQUAL(stats().buffered_messages, 0u);
  // The DATA waited for a subscriber, and then arrived.
  caf::anon_send(conn, subscribe_atom::value, sub);
  run();
  CHECK_LOG(*log, "connected", "connected", "data:held");
}

BOOST_AUTO_TEST_CASE(data_before_a_violation_in_one_read_is_delivered) {
  start();
  auto tr = session_up();
  tr->receive({data_frame(0, "x"), std::string{"\x09garbage"}});
  run();
  CHECK_LOG(*log, "connected", "data:x",
            "disconnected:session_protocol_violation");
}

BOOST_AUTO_TEST_CASE(a_close_during_the_handshake_ends_at_once) {
  start();
  auto tr = dialled();
  caf::anon_send(conn, close_atom::value);
  run();
  CHECK_LOG(*log, "closed:none");
  BOOST_CHECK(tr->closed());
}

BOOST_AUTO_TEST_CASE(close_waits_for_the_acks_then_says_close) {
  start();
  auto tr = session_up();
  send("a");
  caf::anon_send(conn, close_atom::value);
  run();
  BOOST_CHECK(!tr->closed());
  tr->receive({ack_frame(1)});
  run();
  CHECK_LOG(shown(tr->written, 1), "DATA#0:a", "CLOSE(0)");
  BOOST_CHECK(tr->closed_gracefully);
  CHECK_LOG(*log, "connected", "closed:none");
}

BOOST_AUTO_TEST_CASE(the_peers_close_ends_the_connection_without_a_redial) {
  start();
  auto tr = session_up();
  tr->receive({str(session::encode_close(session::close_code::closed))});
  tr->fail(make_error(error::connection_lost));
  run();
  CHECK_LOG(*log, "connected", "closed:closed_by_peer");
  advance(opts.reconnect_period * 10);
  BOOST_CHECK_EQUAL(dialer->attempts, 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- the server's session ----------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(server, server_fixture)

BOOST_AUTO_TEST_CASE(it_answers_the_hello_then_sends) {
  auto a = start();
  send("r");
  CHECK_LOG(shown(a.tr->written), "HELLO(s,next=0)", "DATA#0:r");
  CHECK_LOG(*log, "connected");
}

BOOST_AUTO_TEST_CASE(a_drop_is_disconnected_then_the_session_expires) {
  opts.session_timeout = 5s;
  auto a = start();
  a.tr->fail(make_error(error::connection_lost));
  run();
  CHECK_LOG(*log, "connected", "disconnected:connection_lost");
  advance(5s - caf::timespan{1});
  CHECK_LOG(*log, "connected", "disconnected:connection_lost");
  advance(caf::timespan{1});
  CHECK_LOG(*log, "connected", "disconnected:connection_lost",
            "closed:session_expired");
}

BOOST_AUTO_TEST_CASE(a_resumed_link_gets_what_the_client_did_not_receive) {
  auto a = start();
  send("r1");
  send("r2");
  a.tr->receive({data_frame(0, "c1")});
  a.tr->fail(make_error(error::connection_lost));
  run();
  send("r3"); // while no link is up: waits
  // The client received r1 only.
  auto b = accepted(1, true);
  caf::scoped_actor self{sys};
  auto rh = self->request(caf::actor_cast<caf::actor>(conn), caf::infinite,
                          session_resume_atom::value, transport_ptr{b.tr},
                          b.hs, uint64_t{1});
  run();
  bool ok = false;
  rh.receive([&] { ok = true; }, [&](caf::error&) {});
  BOOST_CHECK(ok);
  CHECK_LOG(shown(b.tr->written), "HELLO(s,next=1)", "DATA#1:r2", "DATA#2:r3");
  // The client resends c1 (it never saw our ACK) and c2.
  b.tr->receive({data_frame(0, "c1"), data_frame(1, "c2")});
  run();
  CHECK_LOG(*log, "connected", "data:c1", "disconnected:connection_lost",
            "connected", "data:c2");
}

BOOST_AUTO_TEST_CASE(a_resume_while_the_old_link_looks_up_replaces_it) {
  auto a = start();
  auto b = accepted(0, true);
  caf::anon_send(caf::actor_cast<caf::actor>(conn), session_resume_atom::value,
                 transport_ptr{b.tr}, b.hs, uint64_t{0});
  run();
  BOOST_CHECK(a.tr->closed());
  CHECK_LOG(*log, "connected", "disconnected:connection_lost", "connected");
  CHECK_LOG(shown(b.tr->written), "HELLO(s,next=0)");
}

BOOST_AUTO_TEST_CASE(a_full_buffer_does_not_stop_the_reading_of_acks) {
  opts.max_outbound_messages = 8;
  auto a = start();
  for (int i = 0; i < 7; ++i)
    send("r" + std::to_string(i));
  // A read while the buffer is over 3/4 full; then the ACK that empties it.
  a.tr->receive({data_frame(0, "c")});
  run();
  a.tr->receive({ack_frame(7)});
  run();
  auto s = ask<connection_stats>(conn, get_atom::value, stats_atom::value);
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(s->buffered_messages, 0u);
  BOOST_CHECK_EQUAL(s->sent, 7u);
}

// Issue 19: a session server's replies leave its buffer only when the
// client acknowledges them, so when they fill it the server cannot stop
// reading (the ACKs come on the same link, behind the client's data).
// Payloads went up all the same, and their echoes were refused. Now the DATA
// that does not fit waits, unacknowledged, while the ACKs behind it are read.
BOOST_AUTO_TEST_CASE(data_that_finds_the_buffer_full_waits_while_the_acks_behind_it_are_read) {
  auto a = start_with_a_full_buffer();
  a.tr->receive({data_frame(0, "c0"), data_frame(1, "c1")});
  run();
  CHECK_LOG(*log, "connected");
  BOOST_CHECK(!a.tr->paused()); // reading on
  a.tr->receive({ack_frame(4)});
  run();
  CHECK_LOG(*log, "connected", "data:c0", "data:c1");
  auto s = ask<connection_stats>(conn, get_atom::value, stats_atom::value);
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(s->rejected, 0u);
  BOOST_CHECK_EQUAL(s->sent, 4u);
}

BOOST_AUTO_TEST_CASE(data_held_back_is_acknowledged_only_once_delivered) {
  auto a = start_with_a_full_buffer();
  a.tr->receive({data_frame(0, "c0")});
  run();
  advance(1s);
  CHECK_LOG(shown(a.tr->written, 5)); // HELLO, DATA#0-3: no ACK
  a.tr->receive({ack_frame(4)});
  run();
  advance(opts.session_ack_delay);
  CHECK_LOG(shown(a.tr->written, 5), "ACK(1)");
}

// Found in review: the client goes away while DATA waits for room that only
// its ACKs would make. The link's end waited for that room forever, so the
// session never learned that its link was gone. The held frames are given
// up (unacknowledged: the client sends them again when it resumes).
BOOST_AUTO_TEST_CASE(a_link_lost_while_data_waits_is_disconnected) {
  auto a = start_with_a_full_buffer();
  a.tr->receive({data_frame(0, "c0")});
  run();
  a.tr->fail(make_error(error::connection_lost));
  run();
  CHECK_LOG(*log, "connected", "disconnected:connection_lost");
}

// The peer's send window bounds what waits (protocol 13.4.1): a peer that
// sends past it breaks the protocol, and its link is dropped (the client
// resumes and sends again what was not acknowledged).
BOOST_AUTO_TEST_CASE(a_peer_sending_past_the_window_while_data_waits_is_dropped) {
  auto a = start_with_a_full_buffer();
  std::vector<std::string> frames;
  for (uint64_t i = 0; i < session::window_frames; ++i)
    frames.push_back(data_frame(i, "c"));
  a.tr->receive(frames);
  run();
  CHECK_LOG(*log, "connected");
  a.tr->receive({data_frame(session::window_frames, "c")});
  run();
  CHECK_LOG(*log, "connected", "disconnected:session_protocol_violation");
  BOOST_CHECK(a.tr->closed());
}

BOOST_AUTO_TEST_CASE(a_closing_session_takes_its_client_back_to_flush) {
  auto a = start();
  send("r");
  a.tr->fail(make_error(error::connection_lost));
  run();
  caf::anon_send(conn, close_atom::value);
  run();
  auto b = accepted(0, true);
  caf::anon_send(caf::actor_cast<caf::actor>(conn), session_resume_atom::value,
                 transport_ptr{b.tr}, b.hs, uint64_t{0});
  run();
  CHECK_LOG(shown(b.tr->written), "HELLO(s,next=0)", "DATA#0:r");
  b.tr->receive({ack_frame(1)});
  run();
  CHECK_LOG(shown(b.tr->written), "HELLO(s,next=0)", "DATA#0:r", "CLOSE(0)");
  CHECK_LOG(*log, "connected", "disconnected:connection_lost", "connected",
            "closed:none");
}

BOOST_AUTO_TEST_CASE(the_peers_call_goes_to_the_first_subscriber) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "abc")});
  run();
  BOOST_CHECK_EQUAL(calls, 1);
  CHECK_LOG(shown(a.tr->written, 1), "REPLY#0/7:ok:cba");
}

BOOST_AUTO_TEST_CASE(a_handlers_error_goes_back_as_an_error_reply) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "fail")});
  run();
  BOOST_REQUIRE_EQUAL(a.tr->written.size(), 2u);
  BOOST_CHECK(show(a.tr->written[1]).rfind("REPLY#0/7:err:", 0) == 0);
  BOOST_CHECK(a.tr->written[1].find("no such key") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_call_its_handler_never_answers_fails_after_the_session_timeout) {
  // Calls arriving at 0 s and 3 s, neither answered: each fails at its own
  // deadline (5 s after it came), and a late answer is not sent.
  opts.session_timeout = 5s;
  auto a = start();
  auto replies = [&] {
    std::vector<std::string> r;
    for (auto& f : a.tr->written)
      if (show(f).rfind("REPLY", 0) == 0)
        r.push_back(show(f));
    return r;
  };
  a.tr->receive({call_frame(0, 7, "hold")});
  run();
  advance(3s);
  a.tr->receive({call_frame(1, 8, "hold")});
  run();
  BOOST_REQUIRE_EQUAL(held, 2);
  advance(2s - caf::timespan{1});
  BOOST_CHECK(replies().empty());
  advance(caf::timespan{1});
  BOOST_REQUIRE_EQUAL(replies().size(), 1u);
  BOOST_CHECK(replies()[0].rfind("REPLY#0/7:err:", 0) == 0);
  BOOST_CHECK(replies()[0].find("did not answer within session-timeout")
              != std::string::npos);
  advance(3s);
  BOOST_REQUIRE_EQUAL(replies().size(), 2u);
  BOOST_CHECK(replies()[1].rfind("REPLY#1/8:err:", 0) == 0);
  caf::anon_send(handler, release_atom::value, std::string{"late"});
  run();
  BOOST_CHECK_EQUAL(replies().size(), 2u);
}

BOOST_AUTO_TEST_CASE(a_resent_call_is_handled_once) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "abc"), call_frame(0, 7, "abc")});
  run();
  BOOST_CHECK_EQUAL(calls, 1);
}

BOOST_AUTO_TEST_CASE(drain_waits_for_calls_in_flight_then_closes_draining) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "hold")});
  run();
  BOOST_REQUIRE_EQUAL(held, 1);
  caf::scoped_actor self{sys};
  auto rh = self->request(conn, caf::infinite, drain_atom::value,
                          caf::timespan{5s});
  run();
  BOOST_CHECK(!a.tr->closed());
  caf::anon_send(handler, release_atom::value, std::string{"late"});
  run();
  CHECK_LOG(shown(a.tr->written, 1), "REPLY#0/7:ok:late");
  BOOST_CHECK(!a.tr->closed()); // the reply is not acknowledged yet
  a.tr->receive({ack_frame(1)});
  run();
  CHECK_LOG(shown(a.tr->written, 1), "REPLY#0/7:ok:late", "CLOSE(1)");
  BOOST_CHECK(a.tr->closed_gracefully);
  drain_report r;
  rh.receive([&](drain_report& x) { r = x; }, [&](caf::error&) {});
  BOOST_CHECK_EQUAL(r.connections_closed, 1u);
  BOOST_CHECK_EQUAL(r.calls_completed, 1u);
  BOOST_CHECK_EQUAL(r.calls_abandoned, 0u);
  BOOST_CHECK_EQUAL(r.messages_dropped, 0u);
  CHECK_LOG(*log, "connected", "closed:draining");
}

BOOST_AUTO_TEST_CASE(drain_timeout_abandons_unanswered_calls) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "hold")});
  send("unacked");
  caf::scoped_actor self{sys};
  auto rh = self->request(conn, caf::infinite, drain_atom::value,
                          caf::timespan{2s});
  run();
  advance(2s);
  drain_report r;
  rh.receive([&](drain_report& x) { r = x; }, [&](caf::error&) {});
  BOOST_CHECK_EQUAL(r.connections_closed, 1u);
  BOOST_CHECK_EQUAL(r.calls_completed, 0u);
  BOOST_CHECK_EQUAL(r.calls_abandoned, 1u);
  BOOST_CHECK_EQUAL(r.messages_dropped, 1u);
  CHECK_LOG(*log, "connected", "closed:draining");
}

BOOST_AUTO_TEST_CASE(a_call_arriving_during_a_drain_is_not_run) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "hold")}); // keeps the drain open
  run();
  caf::anon_send(conn, drain_atom::value, caf::timespan{5s});
  run();
  a.tr->receive({call_frame(1, 8, "abc")});
  run();
  BOOST_CHECK_EQUAL(calls, 1);
  caf::anon_send(handler, release_atom::value, std::string{"x"});
  run();
  CHECK_LOG(shown(a.tr->written, 1), "REPLY#0/7:ok:x");
}

BOOST_AUTO_TEST_CASE(a_new_session_whose_client_claims_more_than_was_sent_is_refused_in_order) {
  // The client says it received up to #5 of a session that sent nothing:
  // its view cannot be ours. It is told, and the link closes in order (a
  // reset could lose the REFUSE); the connection ends.
  auto a = start(5);
  CHECK_LOG(shown(a.tr->written), "REFUSE(1)");
  BOOST_CHECK(a.tr->closed());
  BOOST_CHECK(a.tr->ended_by == close_mode::graceful);
  conn = nullptr;
}

BOOST_AUTO_TEST_CASE(a_plain_server_refuses_a_session_clients_hello) {
  auto tr = start_plain();
  tr->receive({hello_frame(session::side::client, id, 0), "after"});
  run();
  CHECK_LOG(shown(tr->written), "REFUSE(2)");
  BOOST_CHECK(tr->closed_gracefully);
  CHECK_LOG(*log, "connected", "closed:session_refused");
}

BOOST_AUTO_TEST_CASE(a_plain_server_delivers_a_hello_shaped_payload_later_on) {
  auto tr = start_plain();
  tr->receive({"first", hello_frame(session::side::client, id, 0)});
  run();
  BOOST_CHECK(!tr->closed());
  BOOST_CHECK_EQUAL(log->size(), 3u); // connected, data:first, data:<hello>
}

BOOST_AUTO_TEST_CASE(a_drain_refuses_new_sends) {
  auto a = start();
  a.tr->receive({call_frame(0, 7, "hold")}); // keeps the drain open
  run();
  caf::anon_send(conn, drain_atom::value, caf::timespan{5s});
  run();
  caf::scoped_actor self{sys};
  auto rh = self->request(conn, caf::infinite, to_bytes("late"));
  run();
  std::string got = "none";
  rh.receive([&] {}, [&](caf::error& err) { got = code_name(err); });
  BOOST_CHECK_EQUAL(got, "closed_by_user");
}

BOOST_AUTO_TEST_SUITE_END()
