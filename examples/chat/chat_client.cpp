// netasync-chat-client: joins a netasync-chat-server room from a terminal.
// Each stdin line is said in the room; each message of the room is one
// stdout line. Statuses go to stderr. The library reconnects, and the
// client joins again after each reconnect. End of stdin leaves (what was
// typed is sent first) and exits 0.
//
//   netasync-chat-client --connect ws://127.0.0.1:8080/chat --nick NAME
//                        [--room ROOM] [--tls-ca PEM]

#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;
using namespace netasync;

namespace {

using line_atom = caf::atom_constant<caf::atom("chat_line")>;
using eof_atom = caf::atom_constant<caf::atom("chat_eof")>;

struct client_state {
  connection conn;
  bool joined = false;
  std::vector<std::string> waiting; // typed before the first join
  std::string join;
  bool leaving = false;
  caf::actor main; // told when the connection has closed
};

caf::behavior chat_client(caf::stateful_actor<client_state>* self,
                          std::string join, caf::actor main) {
  auto& st = self->state;
  st.join = std::move(join);
  st.main = std::move(main);
  auto say = [self](const std::string& text) {
    self->send(self->state.conn, bytes(text.begin(), text.end()));
  };
  return {
    [=](connected_atom, const connection& conn) {
      std::cerr << "connected" << std::endl;
      self->state.conn = conn;
      // The server forgets a member whose link ended: join on each link.
      say(self->state.join);
      self->state.joined = true;
      for (auto& line : self->state.waiting)
        say(line);
      self->state.waiting.clear();
      if (self->state.leaving)
        self->send(self->state.conn, close_atom::value);
    },
    [=](const connection&, const bytes& payload) {
      std::cout.write(payload.data(), static_cast<std::streamsize>(payload.size()));
      std::cout << std::endl;
    },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      std::cerr << "disconnected: " << describe(err) << std::endl;
      // What is typed now waits for the next join, not in the link's
      // buffer (where it would go out before the join).
      self->state.joined = false;
    },
    [=](closed_atom, const connection&, const caf::error& err) {
      std::cerr << "closed" << (err ? ": " + describe(err) : "") << std::endl;
      self->send(self->state.main, closed_atom::value, !err);
      self->quit();
    },
    [=](line_atom, const std::string& line) {
      if (self->state.joined)
        say(line);
      else
        self->state.waiting.push_back(line);
    },
    [=](eof_atom) {
      // Leave once what was typed is out: close drains the buffer first.
      self->state.leaving = true;
      if (self->state.joined && self->state.conn)
        self->send(self->state.conn, close_atom::value);
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "--connect URL --nick NAME [--room ROOM] [--tls-ca PEM]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]"};
  auto url = cli::url_flag(p, "connect");
  auto nick = p.str("nick");
  auto room = p.str("room", "lobby");
  tls_options tls;
  cli::tls_flags(cli::side::client, p, tls);
  p.finish();
  if (nick.empty() || nick.find(' ') != std::string::npos
      || room.empty() || room.find(' ') != std::string::npos)
    p.usage_error("--nick and --room are single words");
  system_config cfg;
  if (!cli::load_config(cfg, p.config_args()))
    return 2;
  auto opts = options::from(cfg);
  cli::apply_tls_flags(tls, opts.tls);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto client = sys.spawn(chat_client, "join " + room + " " + nick,
                          caf::actor{self});
  auto conn = connect(sys, to_string(url), opts, {client});
  if (!conn) {
    std::cerr << "cannot connect: " << describe(conn.error()) << std::endl;
    caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
    return 1;
  }
  for (std::string line; std::getline(std::cin, line);)
    if (!line.empty())
      self->send(client, line_atom::value, line);
  self->send(client, eof_atom::value);
  bool clean = false;
  self->receive([&](closed_atom, bool ok) { clean = ok; },
                caf::after(std::chrono::seconds(30)) >> [&] {
                  std::cerr << "no close within 30 s" << std::endl;
                });
  return clean ? 0 : 1;
}
