#pragma once

// A bound, listening socket behind a small interface (the server-side
// counterpart of dialer). It reports each accepted connection to its owner as
// (listener_accepted_atom, transport_ptr).

#include <cstdint>
#include <memory>

#include <caf/actor.hpp>
#include <caf/atom.hpp>

#include "transport.hpp"

namespace netasync {

using listener_accepted_atom = caf::atom_constant<caf::atom("na_accept")>;

/// (listener_closed_atom): the socket is closed and the port released.
using listener_closed_atom = caf::atom_constant<caf::atom("na_lclosed")>;

/// (listener_bound_atom, uint16_t): a listener that binds after start()
/// (named_listener) has bound this port.
using listener_bound_atom = caf::atom_constant<caf::atom("na_lbound")>;

/// (listener_failed_atom, caf::error): such a listener could not bind; it
/// is closed.
using listener_failed_atom = caf::atom_constant<caf::atom("na_lfailed")>;

class listener {
public:
  virtual ~listener();

  /// Starts accepting; accepted connections go to `owner`.
  virtual void start(caf::actor owner) = 0;

  /// Stops listening and releases the port, then sends
  /// (listener_closed_atom) to the owner. Idempotent.
  virtual void close() = 0;

  /// The bound port (the one picked when 0 was asked for); 0 while a
  /// named_listener has not bound yet.
  virtual uint16_t port() const = 0;

  /// TLS handshakes that failed or timed out so far (any thread).
  virtual uint64_t handshake_failures() const {
    return 0;
  }
};

using listener_ptr = std::shared_ptr<listener>;

} // namespace netasync
