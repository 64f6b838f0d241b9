// netasync-chat-server: a chat room server for browsers and terminals on one
// port. WebSocket clients (ws:// or wss://) join a room with their first
// message, "join ROOM NICK"; every later message is relayed as "NICK: text"
// to everyone in that room, the sender included. The same port serves the
// browser page (--static DIR) and GET /healthz.
//
//   netasync-chat-server --listen ws://127.0.0.1:8080/chat
//                        [--static examples/chat/www]
//                        [--tls-cert PEM --tls-key PEM]   (for wss://)
//
// Prints "listening on URL" once it accepts; SIGINT or SIGTERM closes every
// connection and exits 0.

#include <signal.h>

#include <iostream>
#include <map>
#include <string>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "chat/rooms.hpp"
#include "cli.hpp"

namespace cli = netasync::examples;
using namespace netasync;

int main(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "--listen URL [--static DIR] [--tls-cert PEM --tls-key PEM]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]"};
  auto listen = cli::url_flag(p, "listen");
  auto dir = p.str("static", "");
  tls_options tls;
  cli::tls_flags(cli::side::server, p, tls);
  p.finish();
  if (!uses_websocket(listen.kind))
    p.usage_error("--listen takes a ws:// or wss:// URL");
  auto sigs = cli::block_termination_signals();
  system_config cfg;
  if (!cli::load_config(cfg, p.config_args()))
    return 2;
  auto opts = options::from(cfg);
  cli::apply_tls_flags(tls, opts.tls);
  opts.ws.static_dir = dir;
  caf::actor_system sys{cfg};
  auto room = sys.spawn(cli::rooms);
  auto acc = accept(sys, to_string(listen), opts, {room});
  if (!acc) {
    std::cerr << "cannot listen: " << describe(acc.error()) << std::endl;
    caf::anon_send_exit(room, caf::exit_reason::user_shutdown);
    return 1;
  }
  auto port = bound_port(sys, *acc);
  if (!port) {
    std::cerr << "cannot listen: " << describe(port.error()) << std::endl;
    caf::anon_send_exit(room, caf::exit_reason::user_shutdown);
    return 1;
  }
  listen.port = *port;
  std::cout << "listening on " << to_string(listen) << std::endl;
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0)
    ; // nop
  caf::anon_send(*acc, close_atom::value);
  caf::anon_send(room, close_atom::value);
  caf::anon_send_exit(room, caf::exit_reason::user_shutdown);
  return 0;
}
