#pragma once

// What connect() and accept() refuse in the session settings, once for both.

#include "netasync/error.hpp"
#include "netasync/options.hpp"

namespace netasync::detail {

/// An invalid_argument error if sessions are on with settings they cannot
/// keep: drop-oldest would drop numbered messages, and every session bound
/// must be positive.
inline caf::error check_session_options(const options& opts) {
  if (!opts.session)
    return caf::error{};
  if (opts.overflow == overflow_policy::drop_oldest
      || opts.session_timeout <= caf::timespan{0}
      || opts.session_ack_delay <= caf::timespan{0}
      || opts.session_handshake_timeout <= caf::timespan{0})
    return make_error(error::invalid_argument,
                      "sessions need the overflow policy reject or "
                      "drop-newest (drop-oldest would drop numbered "
                      "messages) and positive session timeouts");
  return caf::error{};
}

} // namespace netasync::detail
