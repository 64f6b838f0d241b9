#pragma once

// The application's handle of one listening server.
//
// To the handle, an application sends:
//   (subscribe_atom, caf::actor), (unsubscribe_atom, caf::actor)
//   (close_atom)                 stop listening; handed-out connections live on
//   (get_atom, port_atom)        replies the bound port (uint16_t)
//
// Each subscriber receives:
//   (accepted_atom, acceptor, connection)   a new connection; its payloads
//                                           are held until someone subscribes
//   (closed_atom, connection, caf::error)   a connection handed out that
//                                           ended before anyone subscribed
//                                           (never before its accepted)
//   (closed_atom, acceptor, caf::error)     the acceptor stopped

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "netasync/atoms.hpp"

namespace netasync {

using acceptor = caf::typed_actor<
  caf::reacts_to<subscribe_atom, caf::actor>,
  caf::reacts_to<unsubscribe_atom, caf::actor>,
  caf::reacts_to<close_atom>,
  caf::replies_to<get_atom, port_atom>::with<uint16_t>>;

} // namespace netasync
