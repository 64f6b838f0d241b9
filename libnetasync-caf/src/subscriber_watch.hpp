#pragma once

// One actor per actor system that monitors each subscriber once, for every
// connection it subscribed to, and passes its down_msg on to each of them.
//
// Why not a monitor per connection: CAF 0.17 keeps an actor's monitors in a
// list that demonitor scans whole, so with N connections monitoring one
// shared subscriber (the usual server: one handler for every connection),
// each connection's end scanned N entries under that subscriber's lock, and
// closing N connections cost O(N^2) (21 % of an echo server's CPU over a
// 5,000-connection run, most of it at the end). Here each subscriber carries
// one monitor; the supervisors' interest is a hash set per subscriber.
//
// Messages, from a connection's supervisor (who = its own address):
//   (watch_atom, caf::actor subscriber, caf::actor_addr who)
//   (unwatch_atom, caf::actor subscriber, caf::actor_addr who)
// When a watched subscriber ends, every `who` still interested gets the
// subscriber's down_msg, as from a monitor of its own. Interest is
// forgotten then, or at unwatch; a supervisor unwatches what it watched
// when it ends.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

namespace netasync::detail {

using watch_atom = caf::atom_constant<caf::atom("na_watch")>;
using unwatch_atom = caf::atom_constant<caf::atom("na_unwatch")>;

/// Spawns the watch (hidden from the actor system's shutdown wait).
caf::actor spawn_subscriber_watch(caf::actor_system& sys);

} // namespace netasync::detail
