#pragma once

// An in-process echo server for loopback tests: an actor that subscribes to
// every connection its acceptor hands out and sends each payload back.
// (close_atom) closes every connection it serves (a server going away);
// (crash_atom) makes each of its connections fail (and so end).

#include <algorithm>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/acceptor.hpp"
#include "netasync/connection.hpp"

namespace netasync::test {

struct echo_state {
  std::vector<connection> conns;
};

inline caf::behavior echo_service(caf::stateful_actor<echo_state>* self) {
  return {
    [=](accepted_atom, const acceptor&, const connection& conn) {
      self->state.conns.push_back(conn);
      self->send(conn, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
    },
    [=](const connection& conn, bytes& payload) {
      self->send(conn, std::move(payload));
    },
    [=](crash_atom) {
      for (auto& c : self->state.conns)
        self->send(c, crash_atom::value);
    },
    [=](close_atom) {
      for (auto& c : self->state.conns)
        self->send(c, close_atom::value);
      self->state.conns.clear();
    },
    [](connected_atom, const connection&) {},
    [](disconnected_atom, const connection&, const caf::error&) {},
    [=](closed_atom, const connection& conn, const caf::error&) {
      auto& xs = self->state.conns;
      xs.erase(std::remove(xs.begin(), xs.end(), conn), xs.end());
    },
    [](closed_atom, const acceptor&, const caf::error&) {},
  };
}

} // namespace netasync::test
