// Issue 19: the library's message types are announced to CAF's type system
// when the module loads, so that with CAF's middleman a connection handle
// published on one node is used from another as shipped. Two processes on
// 127.0.0.1: node A (node_a.cpp, started here) publishes a client
// connection to its own echo server; this process, node B, gets the handle
// with remote_actor, subscribes, sends, and reads payloads, statuses and
// stats across the nodes. Every wait is bounded; node A is stopped by PID.

#define BOOST_TEST_MODULE remote_node
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <string>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "netasync/all.hpp"

extern char** environ;

using namespace netasync;
using namespace std::chrono_literals;

namespace {

// Node A as a child process: its stdout read for "published PORT", its
// stdin held open (closing it ends node A), killed by PID at the end.
struct node_a {
  pid_t pid = -1;
  int out = -1;
  int in = -1;
  uint16_t port = 0;

  node_a() {
    auto path = std::getenv("NETASYNC_NODE_A");
    BOOST_REQUIRE_MESSAGE(path, "NETASYNC_NODE_A names node A's program");
    int to_child[2];
    int from_child[2];
    BOOST_REQUIRE(pipe(to_child) == 0 && pipe(from_child) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, to_child[1]);
    posix_spawn_file_actions_addclose(&fa, from_child[0]);
    char* argv[] = {path, nullptr};
    auto rc = posix_spawn(&pid, path, &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(to_child[0]);
    close(from_child[1]);
    in = to_child[1];
    out = from_child[0];
    BOOST_REQUIRE_EQUAL(rc, 0);
    port = read_port(10s);
    BOOST_REQUIRE_MESSAGE(port != 0, "node A published no port");
  }

  ~node_a() {
    close(in);
    close(out);
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

  uint16_t read_port(std::chrono::milliseconds within) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + within;
    pollfd p{out, POLLIN, 0};
    while (std::chrono::steady_clock::now() < deadline) {
      if (poll(&p, 1, 100) <= 0)
        continue;
      char c;
      if (read(out, &c, 1) != 1)
        return 0;
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.rfind("published ", 0) == 0)
        return static_cast<uint16_t>(std::stoi(line.substr(10)));
      line.clear();
    }
    return 0;
  }
};

struct config : system_config {
  config() {
    load<caf::io::middleman>();
  }
};

struct fixture {
  node_a a;
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  connection conn;

  fixture() {
    auto remote = sys.middleman().remote_actor<connection>("127.0.0.1",
                                                           a.port);
    if (!remote)
      BOOST_FAIL("remote_actor: " + sys.render(remote.error()));
    conn = *remote;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(remote_node, fixture)

BOOST_AUTO_TEST_CASE(a_connection_published_on_one_node_is_used_from_another) {
  // A subscriber on this node: it learns the status, then the payloads.
  self->send(conn, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  bool connected = false;
  self->receive([&](connected_atom, const connection& c) {
                  connected = c == conn;
                },
                caf::after(10s) >> [] {});
  BOOST_CHECK(connected);
  for (char c : std::string{"abc"})
    self->send(conn, bytes(100, c));
  std::string got;
  bool from_conn = true;
  bool timed_out = false;
  while (got.size() < 3 && !timed_out)
    self->receive(
      [&](const connection& c, const bytes& payload) {
        from_conn = from_conn && c == conn;
        if (payload == bytes(100, payload.front()))
          got += payload.front();
      },
      caf::after(10s) >> [&] { timed_out = true; });
  BOOST_CHECK_EQUAL(got, "abc");
  BOOST_CHECK(from_conn);
  // Its stats cross the nodes too.
  connection_stats st;
  self->request(conn, 10s, get_atom::value, stats_atom::value)
    .receive([&](connection_stats& x) { st = x; },
             [](caf::error& err) { BOOST_FAIL("stats: " + describe(err)); });
  BOOST_CHECK_EQUAL(st.state, "connected");
  BOOST_CHECK_EQUAL(st.sent, 3u);
  BOOST_CHECK_EQUAL(st.received, 3u);
  // A refusal is an error value from the other node: an empty message.
  caf::error refused;
  self->request(conn, 10s, bytes{}).receive([] {},
                                            [&](caf::error& e) { refused = e; });
  BOOST_CHECK_EQUAL(describe(refused).rfind("netasync::empty_payload", 0), 0u);
  self->send(conn, unsubscribe_atom::value, caf::actor_cast<caf::actor>(self));
}

BOOST_AUTO_TEST_SUITE_END()
