#pragma once

// What a graceful drain did: the reply to (drain_atom, timeout) sent to a
// connection or an acceptor (which sums its connections' reports).

#include <cstdint>

#include <caf/meta/type_name.hpp>

namespace netasync {

struct drain_report {
  /// Connections closed by the drain (1 for a connection).
  uint64_t connections_closed = 0;
  /// Calls answered during the drain: the peer's calls whose replies were
  /// sent, and our own calls whose replies came.
  uint64_t calls_completed = 0;
  /// Calls still unanswered at the timeout (either direction).
  uint64_t calls_abandoned = 0;
  /// Messages still unsent (or, with sessions, unacknowledged) at the
  /// timeout, discarded.
  uint64_t messages_dropped = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, drain_report& x) {
  return f(caf::meta::type_name("drain_report"), x.connections_closed,
           x.calls_completed, x.calls_abandoned, x.messages_dropped);
}

} // namespace netasync
