// Node A of remote_node_test: an echo server and a client connection to it
// in one actor system with CAF's middleman loaded; the client connection's
// handle is published on 127.0.0.1 (a free port). Prints "published PORT",
// then runs until its standard input closes (the test holds the other end,
// so node A ends with the test however the test ends), at most 120 s.

#include <chrono>
#include <iostream>
#include <poll.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "netasync/all.hpp"
#include "support/echo_service.hpp"

int main() {
  netasync::system_config cfg;
  cfg.load<caf::io::middleman>();
  if (auto err = cfg.parse(caf::actor_system_config::string_list{})) {
    std::cerr << "node A: " << netasync::describe(err) << std::endl;
    return 2;
  }
  caf::actor_system sys{cfg};
  auto echo = sys.spawn(netasync::test::echo_service);
  netasync::options opts;
  auto acc = netasync::accept(sys, "tcp://127.0.0.1:0", opts, {echo});
  if (!acc) {
    std::cerr << "node A: " << netasync::describe(acc.error()) << std::endl;
    return 1;
  }
  auto port = netasync::bound_port(sys, *acc);
  auto conn = netasync::connect(
    sys, "tcp://127.0.0.1:" + std::to_string(port ? *port : 0), opts);
  if (!port || !conn) {
    std::cerr << "node A: cannot connect to its own echo server" << std::endl;
    return 1;
  }
  auto published = sys.middleman().publish(*conn, 0, "127.0.0.1");
  if (!published) {
    std::cerr << "node A: publish failed: " << sys.render(published.error())
              << std::endl;
    return 1;
  }
  std::cout << "published " << *published << std::endl;
  // Until the test closes our stdin (or 120 s pass).
  pollfd in{STDIN_FILENO, POLLIN, 0};
  char buf[64];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (poll(&in, 1, 1000) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
      break;
  }
  caf::anon_send(*conn, netasync::close_atom::value);
  caf::anon_send(*acc, netasync::close_atom::value);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return 0;
}
