#pragma once

// The application's handle of one connection: stable for the connection's
// whole life, across reconnects and worker restarts (client side). A server
// connection ends with its link, as in net.async.
//
// To the handle, an application sends:
//   bytes                          a message (a request replies an error if
//                                  it was refused: empty, oversized, buffer
//                                  full under the reject policy, closed)
//   std::vector<bytes>             several messages in one CAF message, each
//                                  admitted or refused on its own, in order
//                                  (a request replies the first refusal)
//   (subscribe_atom, caf::actor)   start receiving payloads and statuses;
//                                  payloads that arrive while nobody
//                                  subscribes wait for the first subscriber,
//                                  a later one gets what arrives after it
//   (unsubscribe_atom, caf::actor)
//   (close_atom)                   drain (bounded by close-linger), then closed
//   (get_atom, stats_atom)         replies connection_stats
//   (call_atom, bytes)             a call (sessions only): a request that
//                                  replies the peer's answer (bytes), or an
//                                  error: call_failed (the peer's handler
//                                  failed or none subscribes there; the
//                                  context renders its error), the
//                                  connection's end (closed, expired,
//                                  drained), or the caller's own timeout.
//                                  A call pending while the link drops is
//                                  resent and answered once.
//   (drain_atom, caf::timespan)    graceful drain: refuses new sends, lets
//                                  calls in flight be answered and the
//                                  outbound buffer flush until the timeout,
//                                  then ends (closed, error draining) and
//                                  replies a drain_report
//   (crash_atom)                   injects a failure (tests, demos): a
//                                  client's worker fails and is restarted
//                                  on the same link; a server connection
//                                  fails and ends (closed, worker_failed)
//
// Each subscriber receives, in wire order:
//   (connection, bytes)                           a payload
//   (connection, std::vector<bytes>)              instead, with the option
//                                                 batch_delivery: the payloads
//                                                 of one read, in order
//   (connected_atom, connection)                  the link is up
//   (disconnected_atom, connection, caf::error)   the link is down, an
//                                                 attempt failed (client), or
//                                                 the worker failed and is
//                                                 being restarted (client;
//                                                 followed by connected;
//                                                 error code worker_failed)
//   (closed_atom, connection, caf::error)         the end; default error =
//                                                 closed by the application
//   (call_atom, connection, bytes)                a request (sessions): the
//                                                 peer's call, sent to the
//                                                 first subscriber; reply
//                                                 with bytes (return them,
//                                                 or deliver a promise) or
//                                                 an error. Calls are not
//                                                 ordered with payloads.

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "netasync/atoms.hpp"
#include "netasync/bytes.hpp"
#include "netasync/connection_stats.hpp"
#include "netasync/drain_report.hpp"

namespace netasync {

using connection = caf::typed_actor<
  caf::reacts_to<bytes>,
  caf::reacts_to<std::vector<bytes>>,
  caf::reacts_to<subscribe_atom, caf::actor>,
  caf::reacts_to<unsubscribe_atom, caf::actor>,
  caf::reacts_to<close_atom>,
  caf::replies_to<get_atom, stats_atom>::with<connection_stats>,
  caf::reacts_to<crash_atom>,
  caf::replies_to<call_atom, bytes>::with<bytes>,
  caf::replies_to<drain_atom, caf::timespan>::with<drain_report>>;

} // namespace netasync
