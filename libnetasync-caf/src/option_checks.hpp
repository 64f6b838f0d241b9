#pragma once

// What connect() and accept() refuse in the options, once for both: the same
// settings are refused the same way on either side; what a scheme needs
// besides comes from its row (schemes.hpp).

#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "netasync/options.hpp"
#include "schemes.hpp"

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

/// An invalid_argument error naming the first setting that `connect` or
/// `accept` to `where` cannot work with.
inline caf::error check_options(const options& opts, scheme kind) {
  auto bad = [](const char* what) {
    return make_error(error::invalid_argument, what);
  };
  if (opts.heartbeat_period <= caf::timespan{0}
      || opts.effective_heartbeat_timeout() <= caf::timespan{0}
      || opts.reconnect_period < caf::timespan{0}
      || opts.connect_timeout <= caf::timespan{0})
    return bad("periods and timeouts must be positive");
  auto& row = row_of(kind);
  if (row.tls
      && (opts.tls.handshake_timeout <= caf::timespan{0}
          || opts.tls.max_handshakes == 0))
    return bad("tls.handshake-timeout and tls.max-handshakes must be "
               "positive");
  if (auto why = row.frames->refuses(opts))
    return bad(why);
  // A bound of 0 would stop a connection for good: nothing could be sent,
  // or (a server's read gate) nothing read.
  if (opts.max_frame_size == 0 || opts.max_outbound_messages == 0
      || opts.max_outbound_bytes == 0 || opts.receive_window == 0)
    return bad("max-frame-size, max-outbound-messages, max-outbound-bytes "
               "and receive-window must be at least 1");
  return check_session_options(opts);
}

} // namespace netasync::detail
