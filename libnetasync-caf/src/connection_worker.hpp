#pragma once

// The actor of one live link. Its behaviour owns, for that link: writing
// (what the supervisor hands it), heartbeat sending (idle for
// heartbeat-period → heartbeat), stuck detection (nothing received for
// heartbeat-timeout → drop), and delivery of payloads to the subscribers.
// Time comes from the actor clock, so tests run it in virtual time.
//
// It quits when the link ends, with the reason; a crash (exception) quits it
// with the exception's error and leaves the link to the supervisor, which
// binds a new worker to it. A worker whose supervisor is gone resets the link
// and quits.

#include <cstdint>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "netasync/connection.hpp"
#include "netasync/options.hpp"
#include "transport.hpp"

namespace netasync {

struct worker_config {
  transport_ptr link;
  uint64_t link_id = 0;
  caf::actor supervisor;
  connection handle;
  options opts;
  std::vector<caf::actor> subscribers;
  /// True when this worker replaces a failed one on the same link.
  bool replaces_failed = false;
};

/// Spawns a worker (hidden from the actor system's shutdown wait). The
/// worker starts the transport at once.
caf::actor spawn_connection_worker(caf::actor_system& sys, worker_config cfg);

} // namespace netasync
