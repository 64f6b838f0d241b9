// Sends "ping" to URL and exits 0 once it is echoed back.
#include <iostream>
#include <string>

#include <caf/all.hpp>

#include "netasync/all.hpp"

int main(int argc, char** argv) {
  netasync::system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto conn = netasync::connect(sys, argc > 1 ? argv[1] : "", netasync::options{},
                                {caf::actor_cast<caf::actor>(self)});
  if (!conn)
    return std::cerr << netasync::describe(conn.error()) << '\n', 1;
  self->send(*conn, netasync::bytes{'p', 'i', 'n', 'g'});
  bool echoed = false;
  self->receive_while([&] { return !echoed; })(
    [&](const netasync::connection&, const netasync::bytes& b) {
      echoed = std::string(b.begin(), b.end()) == "ping";
    },
    [](netasync::connected_atom, const netasync::connection&) {},
    [](netasync::disconnected_atom, const netasync::connection&, caf::error&) {},
    caf::after(std::chrono::seconds(10)) >> [] { std::exit(2); });
  std::cout << "echoed\n";
  self->send(*conn, netasync::close_atom::value);
}
