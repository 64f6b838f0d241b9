#pragma once

// The actor behind an `acceptor` handle: takes accepted transports from its
// listener, spawns a server-role connection supervisor for each and hands the
// connection handles to its subscribers.

#include <memory>
#include <functional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "netasync/acceptor.hpp"
#include "listener.hpp"
#include "netasync/options.hpp"

namespace netasync {

struct acceptor_config {
  listener_ptr listen;
  /// Shared by every connection it hands out (one copy, not one each).
  std::shared_ptr<const options> opts;
  std::vector<caf::actor> subscribers;
  std::function<void(const caf::actor&)> track;
  /// Passed to every connection (see supervisor_config::watch).
  caf::actor watch;
};

acceptor spawn_acceptor(caf::actor_system& sys, acceptor_config cfg);

} // namespace netasync
