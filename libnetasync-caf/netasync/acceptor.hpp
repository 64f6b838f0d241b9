#pragma once

// The application's handle of one listening server.
//
// To the handle, an application sends:
//   (subscribe_atom, caf::actor), (unsubscribe_atom, caf::actor)
//   (close_atom)                 stop listening; handed-out connections live on
//   (get_atom, port_atom)        replies the bound port (uint16_t)
//   (get_atom, stats_atom)       replies acceptor_stats
//   (drain_atom, caf::timespan)  graceful shutdown: stops accepting (with
//                                sessions the port stays open for resumes
//                                of the sessions it drains; new sessions
//                                are refused), drains every connection
//                                (see connection.hpp) within the timeout,
//                                replies the summed drain_report, then ends
//                                (closed, draining)
//
// Each subscriber receives:
//   (accepted_atom, acceptor, connection)   a new connection; its payloads
//                                           are held until someone subscribes
//   (closed_atom, connection, caf::error)   a connection handed out that
//                                           ended before anyone subscribed
//                                           (never before its accepted)
//   (closed_atom, acceptor, caf::error)     the acceptor stopped

#include <cstdint>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "netasync/atoms.hpp"
#include "netasync/drain_report.hpp"

namespace netasync {

/// Counters of one acceptor, answered to (get_atom, stats_atom).
struct acceptor_stats {
  /// Connections handed out and still open.
  uint64_t open = 0;
  /// Connections handed out since the start.
  uint64_t accepted = 0;
  /// Connections reset at once: past max-connections, or with nobody
  /// subscribed to the acceptor.
  uint64_t refused = 0;
  /// Handshakes that failed or timed out: TLS (tls, wss) and WebSocket
  /// (ws, wss: a refused upgrade, a request that never came or was not
  /// HTTP). Plain HTTP requests answered on a ws port are not failures.
  uint64_t handshake_failures = 0;
  /// What its connections hold now (outbound buffers and received payloads
  /// not yet processed), against max-buffered-bytes.
  uint64_t buffered_bytes = 0;
  /// Payloads received and written completely by all its connections,
  /// ended ones included, and their bytes.
  uint64_t received = 0;
  uint64_t bytes_received = 0;
  uint64_t sent = 0;
  uint64_t bytes_sent = 0;
  /// Sessions: links that resumed a session kept here.
  uint64_t resumed = 0;
  /// Sends to its connections that were refused (buffer full under reject,
  /// closing) or dropped (a drop policy, unsent at the end), ended
  /// connections included: what an application sent and the peer never got.
  uint64_t sends_lost = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, acceptor_stats& x) {
  return f(caf::meta::type_name("acceptor_stats"), x.open, x.accepted,
           x.refused, x.handshake_failures, x.buffered_bytes, x.received,
           x.bytes_received, x.sent, x.bytes_sent, x.resumed, x.sends_lost);
}

using acceptor = caf::typed_actor<
  caf::reacts_to<subscribe_atom, caf::actor>,
  caf::reacts_to<unsubscribe_atom, caf::actor>,
  caf::reacts_to<close_atom>,
  caf::replies_to<get_atom, port_atom>::with<uint16_t>,
  caf::replies_to<get_atom, stats_atom>::with<acceptor_stats>,
  caf::replies_to<drain_atom, caf::timespan>::with<drain_report>>;

} // namespace netasync
