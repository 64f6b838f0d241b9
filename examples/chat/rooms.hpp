#pragma once

// The chat room of netasync-chat-server and of netasync-http-server's /chat
// WebSocket route: WebSocket clients join a room with their first message,
// "join ROOM NICK"; every later message is relayed as "NICK: text" to
// everyone in that room, the sender included. One actor owns who is in
// which room; it subscribes to each connection it is handed.

#include <map>
#include <string>

#include <caf/all.hpp>

#include "netasync/all.hpp"

namespace netasync::examples {

struct member {
  std::string room; // empty until joined
  std::string nick;
};

struct room_state {
  std::map<connection, member> members;
};

// The one owner of who is in which room.
inline caf::behavior rooms(caf::stateful_actor<room_state>* self) {
  auto say = [self](const std::string& room, const std::string& text) {
    bytes msg(text.begin(), text.end());
    for (auto& [conn, m] : self->state.members)
      if (m.room == room)
        self->send(conn, msg);
  };
  auto leave = [self, say](const connection& conn) {
    auto i = self->state.members.find(conn);
    if (i == self->state.members.end())
      return;
    auto m = i->second;
    self->state.members.erase(i);
    if (!m.room.empty())
      say(m.room, "* " + m.nick + " left");
  };
  return {
    [=](accepted_atom, const acceptor&, const connection& conn) {
      self->state.members.emplace(conn, member{});
      self->send(conn, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
    },
    [=](const connection& conn, const bytes& payload) {
      auto i = self->state.members.find(conn);
      if (i == self->state.members.end())
        return;
      std::string text(payload.begin(), payload.end());
      auto& m = i->second;
      if (m.room.empty()) {
        // "join ROOM NICK"; anything else first is refused.
        auto a = text.find(' ');
        auto b = a == std::string::npos ? a : text.find(' ', a + 1);
        if (text.compare(0, a, "join") != 0 || b == std::string::npos
            || b == a + 1 || b + 1 >= text.size()) {
          std::string err = "* first send: join ROOM NICK";
          self->send(conn, bytes(err.begin(), err.end()));
          return;
        }
        m.room = text.substr(a + 1, b - a - 1);
        m.nick = text.substr(b + 1);
        say(m.room, "* " + m.nick + " joined " + m.room);
        return;
      }
      say(m.room, m.nick + ": " + text);
    },
    [](connected_atom, const connection&) {},
    [=](disconnected_atom, const connection& conn, const caf::error&) {
      leave(conn);
    },
    [=](closed_atom, const connection& conn, const caf::error&) {
      leave(conn);
    },
    [=](closed_atom, const acceptor&, const caf::error&) {},
    [=](close_atom) {
      for (auto& [conn, m] : self->state.members)
        self->send(conn, close_atom::value);
    },
  };
}

} // namespace netasync::examples
