// The README's usage example: a client actor that sends one message to an
// echo server, prints what happens, and closes when the echo arrives.
#include <iostream>

#include <caf/all.hpp>
#include <netasync/all.hpp>

using namespace netasync;

caf::behavior client(caf::event_based_actor* self, std::string url) {
  // The options come from the system's config (netasync.* keys); `self`
  // subscribes.
  auto conn = connect(self, url);
  if (!conn) {
    std::cerr << describe(conn.error()) << '\n';
    return {};
  }
  self->send(*conn, bytes{'h', 'e', 'l', 'l', 'o'}); // waits for the link
  return {
    [=](connected_atom, const connection&) { std::cout << "connected\n"; },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      std::cout << "disconnected: " << describe(err) << '\n'; // retries alone
    },
    [=](const connection& c, const bytes& msg) {
      std::cout << "echo: " << std::string(msg.begin(), msg.end()) << '\n';
      self->send(c, close_atom::value);
    },
    [=](closed_atom, const connection&, const caf::error&) { self->quit(); },
  };
}

struct config : system_config { // system_config loads the netasync module
  config() {
    caf::config_option_adder{custom_options_, "global"}.add(port, "port,p", "echo port");
  }
  uint16_t port = 7000;
};

void caf_main(caf::actor_system& sys, const config& cfg) {
  sys.spawn(client, "tcp://127.0.0.1:" + std::to_string(cfg.port));
}

CAF_MAIN()
