#pragma once

// The actor of one live link of a client connection: its liveness watchdog.
// It drops the link when the link's liveness_rule (liveness.hpp) judges it
// dead, by quitting with that reason (the supervisor, the link's owner, then
// closes it). It checks on its own ticks and gets no message per read, per
// payload or per heartbeat. Time comes from the actor clock, so tests run it
// in virtual time.
//
// A crash (exception) quits it with the exception's error; the supervisor
// spawns a successor for the same link. A worker whose supervisor is gone
// quits. (A server connection has no worker: it ends with its link, as in
// net.async, and watches the link itself; see connection_supervisor.hpp.)

#include <exception>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <caf/timespan.hpp>
#include "transport.hpp"

namespace netasync {

struct worker_config {
  transport_ptr link;
  caf::actor supervisor;
  caf::timespan heartbeat_timeout;
  caf::timespan frame_timeout;
};

/// The text of a caught exception ("unknown exception" if it is none of
/// std::exception's): what a connection's actors report for a failure.
std::string what_of(const std::exception_ptr& eptr);

/// Spawns a worker (hidden from the actor system's shutdown wait).
caf::actor spawn_connection_worker(caf::actor_system& sys, worker_config cfg);

} // namespace netasync
