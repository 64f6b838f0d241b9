#pragma once

// How a client obtains a transport: one asynchronous attempt per call. The
// TCP dialer resolves and connects on the I/O threads with a timeout; tests
// use a fake that answers when told to.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/timespan.hpp>

#include "transport.hpp"

namespace netasync {

/// Reply of a successful attempt:
/// (dial_ok_atom, uint64_t attempt, transport_ptr).
using dial_ok_atom = caf::atom_constant<caf::atom("na_dialok")>;

/// Reply of a failed attempt: (dial_failed_atom, uint64_t attempt, caf::error).
using dial_failed_atom = caf::atom_constant<caf::atom("na_dialerr")>;

class dialer {
public:
  struct request {
    std::string host;
    uint16_t port = 0;
    caf::timespan timeout;
    caf::actor reply_to;
    uint64_t attempt = 0;
  };

  virtual ~dialer();

  /// Starts one attempt and returns at once; exactly one reply follows.
  virtual void dial(request req) = 0;
};

using dialer_ptr = std::shared_ptr<dialer>;

} // namespace netasync
