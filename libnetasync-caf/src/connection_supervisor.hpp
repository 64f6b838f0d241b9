#pragma once

// The actor behind a `connection` handle. In the client role it is the
// *connector*: it dials, and redials every reconnect-period while the link
// is down. In the server role it is the connection itself, supervised by
// the acceptor that spawned it with an accepted transport; the link's end is
// its end.
//
// It owns what must survive a link: the subscribers, the bounded outbound
// buffer, the counters and the restart intensity. It alone starts, writes
// to and closes a link. A client spawns a connection_worker (the liveness
// watchdog) for each live link and, when that fails, a new one for the same
// link. A server connection has nothing to restart (its link cannot be
// redialled from this side), so its link applies the same liveness rule
// (liveness.hpp) itself (transport::watch_liveness): one actor per accepted
// connection, not two; a failure of it ends the connection (closed,
// worker_failed).

#include <memory>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "traffic_totals.hpp"
#include "netasync/connection.hpp"
#include "dialer.hpp"
#include "netasync/options.hpp"
#include "read_gate.hpp"
#include "session_link.hpp"
#include "transport.hpp"

namespace netasync {

enum class role { client, server };

/// Server role: starts the accepted link. The acceptor sends it after it
/// has handed the connection to its subscribers (`accepted`), so that
/// everything the link can cause (a `closed` at once, for a peer that sends
/// garbage) is sent after `accepted` was enqueued: CAF orders messages per
/// sender only, and a supervisor that started its link on its own could
/// tell an observer of the end of a connection it had not been handed yet.
using start_link_atom = caf::atom_constant<caf::atom("na_golink")>;

/// Server role with sessions, from the acceptor: the client resumes this
/// session on a new link whose handshake is done: (session_resume_atom,
/// transport_ptr, session_link_ptr, uint64_t peer_next) -> unit, or an
/// error when the session is over (the acceptor then refuses the link).
using session_resume_atom = caf::atom_constant<caf::atom("na_sresume")>;

struct supervisor_config {
  role side = role::client;
  /// Client role: where and how to dial.
  std::string host;
  uint16_t port = 0;
  dialer_ptr dial;
  /// Server role: the accepted link.
  transport_ptr accepted;
  /// Server role with sessions: the accepted link's session layer (its
  /// handshake done), the session's id and where the client's receiving
  /// stopped (its HELLO).
  detail::session_link_ptr accepted_session;
  detail::session::session_id session_id{};
  uint64_t accepted_peer_next = 0;
  /// Shared with the other connections of an acceptor (never null).
  std::shared_ptr<const options> opts;
  std::vector<caf::actor> subscribers;
  /// Server role: who was handed this connection (the acceptor's
  /// subscribers). They get the closed status if it ends before anyone
  /// subscribed.
  std::vector<caf::actor> observers;
  /// Called with every actor spawned for this connection (may be empty).
  std::function<void(const caf::actor&)> track;
  /// The actor system's subscriber_watch (subscriber_watch.hpp), which
  /// monitors subscribers on behalf of every connection (never null).
  caf::actor watch;
  /// Server role: the acceptor's bound across its connections (null: none).
  detail::buffer_budget_ptr budget;
  /// Server role: the acceptor's sums of messages and bytes each way.
  detail::traffic_totals_ptr totals;
};

/// Spawns the supervisor (hidden from the actor system's shutdown wait).
connection spawn_connection_supervisor(caf::actor_system& sys,
                                       supervisor_config cfg);

} // namespace netasync
